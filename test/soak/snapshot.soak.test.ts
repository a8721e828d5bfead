/**
 * `make soak`: 1,000 snapshot cycles through the real agent process with faults sprinkled in
 * (S3 503, camera slow and 503, broker killed). A leak is measured as the agent's live heap after a
 * forced full GC (the test-only heap probe, src/agent/heap-probe.ts) after the warm-up and at the
 * end: growth under 5 MB. RSS is sampled every cycle and its least-squares slope reported: RSS at one
 * moment cannot tell a leak from garbage-collection timing or malloc keeping freed pages.
 *
 * The agent is what ships: the x64 package (`make soak` builds it as `make bench` does) started by its
 * launcher with the launcher's runtime settings. SOAK_AGENT=dev runs the development entry
 * (`node dist/cli.js agent`) instead. Benchmarks, printed, not asserted: RSS at the end against the
 * idle agent's at start (target: at most 15 MB more), and the memory breakdown at start, after the
 * warm-up and at the end.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { whyNotRequested } from '../../src/cloud/handler.js';
import { HAS_MOSQUITTO, startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { spawnAgent, spawnPackagedAgent, type AgentProcess } from '../helpers/agent-process.js';
import { HEAP_PROBE_ENV, HEAP_PROBE_FORCE_GC, HEAP_PROBE_SIGNAL } from '../../src/agent/heap-probe.js';
import { RequestLedger } from '../helpers/request-ledger.js';

const CYCLES = Number(process.env['SOAK_CYCLES'] ?? 1000);
const WARMUP = 50;
const thing = 'camera-1';
let t: TestDevcloud;
let agent: AgentProcess;
let ledger: RequestLedger;
let appDir: string | undefined;
/** `make soak` builds it (ARCH=x64 PACKAGE_DIR=build/bench-package, as `make bench`). */
const PACKAGE_STAGE = path.resolve(process.env['SOAK_PACKAGE_STAGE'] ?? 'build/bench-package-work/x64/eap');
const DEV_ENTRY = process.env['SOAK_AGENT'] === 'dev';

/**
 * The package copied to a temporary app directory, its settings the devcloud agent config, and the
 * executable's pages dropped from the page cache (as read from disk, as `make bench` measures it).
 * SOAK_NODE_OPTIONS, when set, goes to localdata/runtime.env (the launcher's own override, checked by it).
 */
async function packagedApp(configPath: string): Promise<string> {
  if (!existsSync(path.join(PACKAGE_STAGE, 'cloudcam'))) throw new Error(`no x64 package at ${PACKAGE_STAGE}: run \`make soak\` (it builds it), or SOAK_AGENT=dev for the development entry`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-soak-'));
  await cp(PACKAGE_STAGE, dir, { recursive: true });
  await mkdir(path.join(dir, 'localdata'), { recursive: true });
  const config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  await writeFile(path.join(dir, 'localdata', 'cloudcam.json'), JSON.stringify({ ...config, stateDir: path.join(dir, 'localdata', 'state') }, null, 2));
  const nodeOptions = process.env['SOAK_NODE_OPTIONS'];
  if (nodeOptions) await writeFile(path.join(dir, 'localdata', 'runtime.env'), `NODE_OPTIONS=${nodeOptions}\n`);
  const exe = path.join(dir, 'cloudcam-agent');
  execFileSync('sync', [exe]);
  execFileSync('dd', [`if=${exe}`, 'iflag=nocache', 'count=0', 'status=none']);
  return dir;
}

beforeAll(async () => {
  t = await startTestDevcloud({ broker: HAS_MOSQUITTO ? 'mosquitto' : 'aedes' });
  ledger = new RequestLedger(t.dc, thing, (id) => agent.lines.some((l) => l['event'] === 'snapshot.received' && l['id'] === id));
  const configPath = t.dc.info.devices[thing]!.agentConfigPath;
  const env = {
    CLOUDCAM_LOG_LEVEL: 'info',
    CLOUDCAM_IOT_RECONNECT_MIN_MS: '50',
    CLOUDCAM_IOT_RECONNECT_MAX_MS: '400',
    CLOUDCAM_IOT_MQTT_VERSION: HAS_MOSQUITTO ? '5' : '3.1.1',
    CLOUDCAM_SNAPSHOT_CAPTURE_TIMEOUT_MS: '1500',
    [HEAP_PROBE_ENV]: HEAP_PROBE_FORCE_GC,
    // Measurement runs set the agent's own environment here (e.g. '{"MALLOC_ARENA_MAX":"2"}'; the
    // launcher sets NODE_OPTIONS itself: SOAK_NODE_OPTIONS).
    ...(JSON.parse(process.env['SOAK_AGENT_ENV'] ?? '{}') as Record<string, string>),
  };
  if (DEV_ENTRY) {
    agent = await spawnAgent(configPath, env, { nodeArgs: ['--expose-gc'] });
  } else {
    appDir = await packagedApp(configPath);
    agent = await spawnPackagedAgent(appDir, env);
  }
  process.stdout.write(`soak: agent ${DEV_ENTRY ? 'development entry (SOAK_AGENT=dev)' : `${PACKAGE_STAGE} through its launcher`}\n`);
}, 120_000);

/**
 * Where the agent's memory is, in MB: /proc (RSS; its file-backed part, mostly the executable; private;
 * malloc's main arena `[heap]`) and V8 (after a forced full GC; code space included in heapTotal).
 */
interface MemoryBreakdown {
  rss: number;
  rssFile: number;
  private: number;
  mallocHeap: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  codeSpace: number;
}

async function memoryBreakdown(): Promise<MemoryBreakdown> {
  const from = agent.lines.length;
  agent.child.kill(HEAP_PROBE_SIGNAL);
  const line = await agent.waitForLog((l) => l['event'] === 'heap.probe', 10_000, from);
  if (line['gc'] !== true) throw new Error('the heap probe ran without a GC: the runtime refused --expose-gc');
  const mb = (bytes: unknown): number => (bytes as number) / 1048576;
  // Private_Dirty: the agent's own pages, without the node binary's file pages that RSS also counts.
  const rollup = readFileSync(`/proc/${agent.pid}/smaps_rollup`, 'utf8');
  const privateKb = Number(/Private_Dirty:\s+(\d+) kB/.exec(rollup)?.[1] ?? NaN);
  const status = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
  const rssFileKb = Number(/RssFile:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  // The [heap] mapping's Rss (its block runs from its header to the next mapping's).
  const smaps = readFileSync(`/proc/${agent.pid}/smaps`, 'utf8');
  const heapBlock = smaps.slice(smaps.indexOf('[heap]')).split(/\n[0-9a-f]+-[0-9a-f]+ /)[0] ?? '';
  const heapKb = smaps.includes('[heap]') ? Number(/\nRss:\s+(\d+) kB/.exec(heapBlock)?.[1] ?? 0) : 0;
  const spaces = (line['spaces'] ?? {}) as Record<string, number>;
  return {
    rss: agent.rssKb() / 1024,
    rssFile: rssFileKb / 1024,
    private: privateKb / 1024,
    mallocHeap: heapKb / 1024,
    heapUsed: mb(line['heapUsed']),
    heapTotal: mb(line['heapTotal']),
    external: mb(line['external']),
    arrayBuffers: mb(line['arrayBuffers']),
    codeSpace: mb((spaces['code_space'] ?? 0) + (spaces['code_large_object_space'] ?? 0)),
  };
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
  if (appDir) await rm(appDir, { recursive: true, force: true });
});

it(`${CYCLES} snapshot cycles with faults: live heap growth under 5 MB, nothing lost or doubled`, { timeout: 30 * 60_000 }, async () => {
  const faults: Record<string, number> = {};
  const inject = (what: string, apply: () => void): void => {
    apply();
    faults[what] = (faults[what] ?? 0) + 1;
  };
  const camera = t.dc.cameras.get(thing)!;
  let startKb = 0;
  let idleKb = 0;
  let idle: MemoryBreakdown | undefined;
  let start: MemoryBreakdown | undefined;
  const began = Date.now();
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
    if (i === 1) {
      // Idle at start, as `make bench` measures it: connected, a snapshot done, then 2 s.
      await new Promise((r) => setTimeout(r, 2000));
      idleKb = agent.rssKb();
      idle = await memoryBreakdown();
    }
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
  const overIdle = (endKb - idleKb) / 1024;
  process.stdout.write(
    `soak: run time ${((Date.now() - began) / 60_000).toFixed(1)} min; RSS at the end ${(endKb / 1024).toFixed(1)} MB, idle at start ${(idleKb / 1024).toFixed(1)} MB: +${overIdle.toFixed(1)} MB (target ≤ +15 MB: ${overIdle <= 15 ? 'met' : 'MISSED'})\n` +
      `soak: memory (MB) idle at start:    ${describeMemory(idle!)}\n` +
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
