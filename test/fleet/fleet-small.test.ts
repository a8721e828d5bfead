/**
 * The fleet simulation in small (`make fleet` runs 500): 50 real agents in this process, half by
 * claim, one snapshot each through the cloud handler, the broker killed half-way. Counted from the
 * shadows and S3: all delivered, nothing lost or doubled.
 */
import { expect, it } from 'vitest';
import { HAS_MOSQUITTO } from '../helpers/devcloud.js';
import { formatFleetFigures, runFleet } from '../../src/fleet/run-fleet.js';

const CAMERAS = 50;

it(`${CAMERAS} cameras (half by claim), a broker kill half-way: every snapshot delivered once`, { timeout: 120_000 }, async () => {
  const f = await runFleet({ cameras: CAMERAS, snapshots: 1, broker: HAS_MOSQUITTO ? 'mosquitto' : 'aedes', waitMs: 60_000 });
  process.stdout.write(formatFleetFigures(f) + '\n');
  expect(f.online).toBe(CAMERAS);
  expect(f.notRecovered).toBe(0);
  expect(f.ledger.lost).toEqual([]);
  expect(f.ledger.duplicates).toEqual([]);
  expect(f.ledger.uploadedWithoutObject).toEqual([]);
  expect(f.operatorRequests).toBe(CAMERAS);
  // Every request the cloud made was delivered or replaced by a newer one before the agent took it.
  expect(f.ledger.delivered + f.ledger.superseded).toBe(f.ledger.requested);
  expect(f.onlineMs).toBeLessThan(45_000);
});
