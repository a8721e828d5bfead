/**
 * The fleet simulation in small (`make fleet` runs 500): `node dist/fleet/cli.js` with 50 real agents
 * in one process, half by claim, one snapshot each through the cloud handler, the broker killed
 * half-way. Counted from the shadows and S3: all delivered, nothing lost or doubled. Run as the CLI,
 * so the run must also end by itself: a client left reconnecting after the broker kill (mosquitto's
 * dynsec client did) kept the process alive for ever.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { HAS_MOSQUITTO } from '../helpers/devcloud.js';

const CAMERAS = 50;
const LAST_LINE = /^fleet: (\d+) cameras, (\d+) online in ([\d.]+) s, (\d+) of (\d+) snapshots delivered, lost (\d+), duplicates (\d+), p50 (\d+) ms, p95 (\d+) ms$/;

it(`${CAMERAS} cameras (half by claim), a broker kill half-way: every snapshot delivered once, and the run ends by itself`, { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, ['--expose-gc', path.resolve('dist/fleet/cli.js'), '--cameras', String(CAMERAS), '--snapshots', '1', '--broker', HAS_MOSQUITTO ? 'mosquitto' : 'aedes'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  // A run that does not end by itself is killed, so the failure names the cause and leaves nothing behind.
  let hung = false;
  const bound = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, 100_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(bound);
  process.stdout.write(out);
  expect(hung, 'the fleet run did not exit within 100 s (something left running after the agents and devcloud stopped)').toBe(false);
  const lines = out.trim().split('\n');
  const m = LAST_LINE.exec(lines.at(-1) ?? '');
  expect(m, `last line: ${lines.at(-1)}`).not.toBeNull();
  const [cameras, online, onlineS, delivered = NaN, requested = NaN, lost, duplicates] = m!.slice(1).map(Number);
  expect(cameras).toBe(CAMERAS);
  expect(online).toBe(CAMERAS);
  expect(lost).toBe(0);
  expect(duplicates).toBe(0);
  // Each camera: one request on coming online, the operator's, one more on coming back after the kill.
  // Each is delivered, or replaced by a newer one (the one on coming back can replace an operator's
  // request in flight during the kill): then the agent reports it rejected, or never took it.
  expect(requested).toBe(3 * CAMERAS);
  const byStatus = JSON.parse(/reports by status\s+(\{.*\})/.exec(out)?.[1] ?? '{}') as Record<string, number>;
  const superseded = Number(/superseded before taken\s+(\d+)/.exec(out)?.[1]);
  expect(Object.keys(byStatus).filter((s) => s !== 'uploaded' && s !== 'rejected')).toEqual([]);
  expect(delivered + (byStatus['rejected'] ?? 0) + superseded).toBe(requested);
  expect(delivered).toBeGreaterThanOrEqual(requested - CAMERAS);
  expect(onlineS).toBeLessThan(45);
  expect(out).toMatch(/broker kill -> all online\s+\d+ ms/);
  expect(code).toBe(0);
});
