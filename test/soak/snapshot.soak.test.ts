/**
 * `make soak`: 1,000 snapshot cycles through the real agent process with faults sprinkled in
 * (S3 503, camera slow and 503, broker killed); prints RSS at start and end. Target drift < 5 MB.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { whyNotRequested } from '../../src/cloud/handler.js';
import { HAS_MOSQUITTO, startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process.js';
import { RequestLedger } from '../helpers/request-ledger.js';

const CYCLES = Number(process.env['SOAK_CYCLES'] ?? 1000);
const WARMUP = 50;
const thing = 'camera-1';
let t: TestDevcloud;
let agent: AgentProcess;
let ledger: RequestLedger;

beforeAll(async () => {
  t = await startTestDevcloud({ broker: HAS_MOSQUITTO ? 'mosquitto' : 'aedes' });
  ledger = new RequestLedger(t.dc, thing, (id) => agent.lines.some((l) => l['event'] === 'snapshot.received' && l['id'] === id));
  agent = await spawnAgent(t.dc.info.devices[thing]!.agentConfigPath, {
    CLOUDCAM_LOG_LEVEL: 'info',
    CLOUDCAM_IOT_RECONNECT_MIN_MS: '50',
    CLOUDCAM_IOT_RECONNECT_MAX_MS: '400',
    CLOUDCAM_IOT_MQTT_VERSION: HAS_MOSQUITTO ? '5' : '3.1.1',
    CLOUDCAM_SNAPSHOT_CAPTURE_TIMEOUT_MS: '1500',
  });
});
afterAll(async () => {
  await agent?.stop();
  await t?.cleanup();
});

it(`${CYCLES} snapshot cycles with faults: RSS drift under 5 MB, nothing lost or doubled`, { timeout: 30 * 60_000 }, async () => {
  const faults: Record<string, number> = {};
  const inject = (what: string, apply: () => void): void => {
    apply();
    faults[what] = (faults[what] ?? 0) + 1;
  };
  const camera = t.dc.cameras.get(thing)!;
  let startKb = 0;
  for (let i = 1; i <= CYCLES + WARMUP; i++) {
    // Faults on a fixed pattern, so runs compare.
    if (i % 37 === 0) inject('S3 503', () => t.dc.s3.setFaults({ failNext: { status: 503, count: 1 } }));
    if (i % 53 === 0) inject('camera slow', () => camera.setFaults({ delayMs: 300 }));
    if (i % 71 === 0) inject('camera 503', () => camera.setFaults({ status: 503 }));
    if (i % 97 === 0) {
      const online = ledger.nextCloudRequest();
      await t.dc.restartBroker({ kill: true });
      faults['broker killed'] = (faults['broker killed'] ?? 0) + 1;
      // Back online, the cloud asks for a snapshot itself; serve that one before asking again.
      await ledger.waitForStatus((await online).id, 30_000);
    }
    const pending = [...ledger.requests.keys()].filter((id) => !ledger.statuses.has(id) && !ledger.overwritten.has(id));
    await Promise.all(pending.map((id) => ledger.waitForStatus(id, 30_000)));
    const r = await t.dc.handler.handle({ kind: 'snapshot', thing, reason: 'soak' });
    if (r.action !== 'requested') throw new Error(whyNotRequested(r));
    ledger.add(r.request);
    await ledger.waitForStatus(r.request.id, 30_000);
    camera.setFaults({});
    if (i === WARMUP) startKb = agent.rssKb();
    if (i % 100 === 0) process.stdout.write(`soak: cycle ${i}, RSS ${agent.rssKb()} KB\n`);
  }
  const endKb = agent.rssKb();
  const s = ledger.summary();
  process.stdout.write(
    `soak: ${CYCLES} cycles after ${WARMUP} warm-up; RSS start ${startKb} KB, end ${endKb} KB, drift ${((endKb - startKb) / 1024).toFixed(1)} MB\n` +
      `soak: faults ${JSON.stringify(faults)}; requests ${s.created}, by status ${JSON.stringify(s.byStatus)}, lost ${s.lost.length}, duplicate uploads ${s.duplicateUploads.length}\n`,
  );
  expect(s.lost).toEqual([]);
  expect(s.duplicateUploads).toEqual([]);
  expect(s.inconsistent).toEqual([]);
  expect(agent.unexpectedExit).toBeUndefined();
  expect(endKb - startKb).toBeLessThan(5 * 1024);
});
