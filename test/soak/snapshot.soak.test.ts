/**
 * `make soak`: 1,000 snapshot cycles through the real agent process with faults sprinkled in
 * (S3 503, camera slow and 503, broker killed). A leak is measured as the agent's live heap after a
 * forced full GC (the test-only heap probe, src/agent/heap-probe.ts) after the warm-up and at the
 * end: growth under 5 MB. RSS is sampled every cycle and its least-squares slope reported: RSS at one
 * moment cannot tell a leak from garbage-collection timing or malloc keeping freed pages.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { whyNotRequested } from '../../src/cloud/handler.js';
import { HAS_MOSQUITTO, startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process.js';
import { HEAP_PROBE_ENV, HEAP_PROBE_SIGNAL } from '../../src/agent/heap-probe.js';
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
    [HEAP_PROBE_ENV]: '1',
    // Measurement runs set the agent's own environment here (e.g. '{"MALLOC_ARENA_MAX":"2"}').
    ...(JSON.parse(process.env['SOAK_AGENT_ENV'] ?? '{}') as Record<string, string>),
  }, { nodeArgs: ['--expose-gc'] });
});

/** Where the agent's memory is, in MB: /proc (RSS, private) and V8 (after a forced full GC). */
interface MemoryBreakdown {
  rss: number;
  private: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

async function memoryBreakdown(): Promise<MemoryBreakdown> {
  const from = agent.lines.length;
  agent.child.kill(HEAP_PROBE_SIGNAL);
  const line = await agent.waitForLog((l) => l['event'] === 'heap.probe', 10_000, from);
  if (line['gc'] !== true) throw new Error('the heap probe ran without a GC: is --expose-gc passed?');
  const mb = (bytes: unknown): number => (bytes as number) / 1048576;
  // Private_Dirty: the agent's own pages, without the node binary's file pages that RSS also counts.
  const rollup = readFileSync(`/proc/${agent.pid}/smaps_rollup`, 'utf8');
  const privateKb = Number(/Private_Dirty:\s+(\d+) kB/.exec(rollup)?.[1] ?? NaN);
  return { rss: agent.rssKb() / 1024, private: privateKb / 1024, heapUsed: mb(line['heapUsed']), heapTotal: mb(line['heapTotal']), external: mb(line['external']), arrayBuffers: mb(line['arrayBuffers']) };
}

const describeMemory = (m: MemoryBreakdown): string => (Object.entries(m) as [string, number][]).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const num = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}
afterAll(async () => {
  await agent?.stop();
  await t?.cleanup();
});

it(`${CYCLES} snapshot cycles with faults: live heap growth under 5 MB, nothing lost or doubled`, { timeout: 30 * 60_000 }, async () => {
  const faults: Record<string, number> = {};
  const inject = (what: string, apply: () => void): void => {
    apply();
    faults[what] = (faults[what] ?? 0) + 1;
  };
  const camera = t.dc.cameras.get(thing)!;
  let startKb = 0;
  let start: MemoryBreakdown | undefined;
  const rss: [number, number][] = [];
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
    if (i === WARMUP) {
      startKb = agent.rssKb();
      start = await memoryBreakdown();
    }
    if (i >= WARMUP) rss.push([i, agent.rssKb()]);
    if (i % 100 === 0) process.stdout.write(`soak: cycle ${i}, RSS ${agent.rssKb()} KB\n`);
  }
  const endKb = agent.rssKb();
  const end = await memoryBreakdown();
  const startHeap = start!.heapUsed * 1048576;
  const endHeap = end.heapUsed * 1048576;
  const s = ledger.summary();
  const kbPer100 = slope(rss) * 100;
  process.stdout.write(
    `soak: ${CYCLES} cycles after ${WARMUP} warm-up; live heap after full GC start ${(startHeap / 1048576).toFixed(2)} MB, end ${(endHeap / 1048576).toFixed(2)} MB, growth ${((endHeap - startHeap) / 1048576).toFixed(2)} MB\n` +
      `soak: RSS start ${startKb} KB, end ${endKb} KB, drift ${((endKb - startKb) / 1024).toFixed(1)} MB; least-squares slope ${kbPer100.toFixed(1)} KB per 100 cycles\n` +
      `soak: memory (MB) after the warm-up: ${describeMemory(start!)}\n` +
      `soak: memory (MB) at the end:       ${describeMemory(end)}\n` +
      `soak: faults ${JSON.stringify(faults)}; requests ${s.created}, by status ${JSON.stringify(s.byStatus)}, lost ${s.lost.length}, duplicate uploads ${s.duplicateUploads.length}\n`,
  );
  expect(s.lost).toEqual([]);
  expect(s.duplicateUploads).toEqual([]);
  expect(s.inconsistent).toEqual([]);
  expect(agent.unexpectedExit).toBeUndefined();
  expect(endHeap - startHeap).toBeLessThan(5 * 1024 * 1024);
});
