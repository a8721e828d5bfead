#!/usr/bin/env node
// Where live view's memory goes (docs/benchmarks.md, "Live view's memory per viewer"). A diagnostic,
// not a test: the shipped x64 agent (the package `make bench-live` builds, through its launcher) and
// chromium viewers, as in bench-live.mjs, one agent through these phases:
//   idle (live on, never asked) → live started with no viewer (the live chunk compiled, signalling up)
//   → stopped → 1 viewer for --hold s → stopped → 1 viewer again → 4 viewers for --hold s, twice →
//   stopped.
// At each phase: RSS and private memory, the smaps split ([heap] = malloc's arena with
// MALLOC_ARENA_MAX=1, [anon] = V8's heap pages and large mallocs), then the V8 heap after a full GC
// (the agent's test-only heap probe, CLOUDCAM_TEST_HEAP_PROBE=gc) and RSS again: what a GC gives back
// is garbage, what stays is held or kept by the allocator. `--heaptrack FILE` runs the agent under
// heaptrack (Debian's `heaptrack`; slow: use it for the peak's call stacks, not for the figures).
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { rssOf, shippedAgent, smapsBreakdown, startLiveBench, startProcess, stopAgent } from './bench-lib.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { values } = parseArgs({ options: { hold: { type: 'string', default: '20' }, heaptrack: { type: 'string' }, 'runtime-env': { type: 'string' } } });
const HOLD_MS = Number(values.hold) * 1000;
const IDLE_S = 3;
const FRAMES = 45;

const { dir, dc, thing, info, camera, viewer } = await startLiveBench('bench-live-memory', IDLE_S);
const { viewerTarget, goLive, openLiveBrowser } = viewer;
const appDir = path.join(dir, 'app');
const agent = await shippedAgent(appDir, info.devices[thing].agentConfigPath);
// Launcher settings to try (its runtime.env: NODE_OPTIONS=, UV_THREADPOOL_SIZE=, MALLOC_ARENA_MAX=).
if (values['runtime-env']) writeFileSync(path.join(appDir, 'localdata', 'runtime.env'), `${values['runtime-env'].replaceAll(';', '\n')}\n`);
if (values.heaptrack) {
  // The launcher's defaults, set here because heaptrack starts the executable itself.
  Object.assign(agent, { command: 'heaptrack', argv: ['-o', values.heaptrack, path.join(appDir, 'cloudcam-agent')], env: { CLOUDCAM_APP_DIR: appDir, NODE_OPTIONS: '--jitless --max-semi-space-size=1 --v8-pool-size=1', UV_THREADPOOL_SIZE: '1', MALLOC_ARENA_MAX: '1' } });
}
const child = startProcess(agent, { CLOUDCAM_LOG_LEVEL: 'info', CLOUDCAM_TEST_HEAP_PROBE: 'gc' }, 'pipe');
const probes = [];
const events = [];
await new Promise((resolve, reject) => {
  child.once('exit', (code) => reject(new Error(`the agent exited (${code}) before it connected`)));
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      const e = JSON.parse(line.replace(/^<\d>/, ''));
      if (e.msg === 'MQTT connected') resolve();
      if (e.event === 'heap.probe') probes.push(e);
      else if (typeof e.event === 'string' && e.event.startsWith('live.')) events.push(`${e.event}${e.viewers === undefined ? '' : `(${e.viewers})`}${e.why ? ` [${e.why}]` : ''}`);
    } catch {
      // not a JSON line
    }
  });
});
/** The agent's own process: the launcher execs (same pid); heaptrack starts it as a child of its own. */
function agentPid() {
  const exe = path.join(appDir, 'cloudcam-agent');
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readlinkSync(`/proc/${pid}/exe`) === exe) return Number(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  throw new Error('the agent process was not found');
}
const pid = agentPid();
const settle = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes) => (bytes / 1048576).toFixed(1);
const rows = [];

async function sample(phase) {
  const before = await rssOf(pid);
  const smaps = (await smapsBreakdown(pid)).byName;
  const n = probes.length;
  process.kill(pid, 'SIGUSR2');
  const until = Date.now() + 10_000;
  while (probes.length === n && Date.now() < until) await settle(50);
  const p = probes[n];
  if (!p) throw new Error('no heap probe line: is CLOUDCAM_TEST_HEAP_PROBE honoured by this build?');
  const after = await rssOf(pid);
  rows.push({
    phase,
    rss: before.rss.toFixed(1),
    private: before.private.toFixed(1),
    mallocHeap: (smaps['[heap]']?.privateDirty ?? 0).toFixed(1),
    anon: (smaps['[anon]']?.privateDirty ?? 0).toFixed(1),
    rssAfterGc: after.rss.toFixed(1),
    v8Used: mb(p.heapUsed),
    v8Total: mb(p.heapTotal),
    external: mb(p.external),
    events: events.splice(0).join(', '),
  });
  console.error(`${phase}: RSS ${before.rss.toFixed(1)} MB`);
}

async function stopAndWait(browser) {
  await browser.stopAll();
  await camera.rtsp.untilSessions((count) => count === 0, (IDLE_S + 30) * 1000);
  await settle((IDLE_S + 2) * 1000); // the agent's idle stop: signalling closed too
}

const browser = await openLiveBrowser(info);
try {
  await settle(3000);
  await sample('idle, live on, never asked');
  await viewerTarget(info, thing); // the channel exists, as when the viewer API asks
  await goLive(info, thing);
  await settle(1500);
  await sample('live started, no viewer (chunk compiled, signalling)');
  await settle((IDLE_S + 2) * 1000);
  await sample('live stopped, no viewer ever');
  await browser.prepare(1);
  await goLive(info, thing);
  const first = await browser.watch(await viewerTarget(info, thing), FRAMES, 15_000);
  if (first.firstFrameAt === undefined) throw new Error(`first viewer: ${first.error}`);
  await settle(HOLD_MS);
  await sample(`1 viewer, ${HOLD_MS / 1000} s`);
  await stopAndWait(browser);
  await sample('after 1 viewer, live stopped');
  await browser.prepare(4);
  await goLive(info, thing);
  await browser.watch(await viewerTarget(info, thing), FRAMES, 15_000);
  await settle(HOLD_MS);
  await sample(`1 viewer again, ${HOLD_MS / 1000} s`);
  const more = await Promise.all([0, 1, 2].map(async () => browser.watch(await viewerTarget(info, thing), FRAMES, 15_000)));
  console.error(`frames of viewers 2-4: ${more.map((r) => r.frames).join(', ')}`);
  await settle(HOLD_MS);
  await sample(`4 viewers, ${HOLD_MS / 1000} s`);
  await settle(HOLD_MS);
  await sample(`4 viewers, ${(2 * HOLD_MS) / 1000} s`);
  await stopAndWait(browser);
  await sample('after 4 viewers, live stopped');
} finally {
  await browser.close();
  await stopAgent(child);
  await dc.stop();
  await rm(dir, { recursive: true, force: true });
}
const cols = ['phase', 'rss', 'private', 'mallocHeap', 'anon', 'rssAfterGc', 'v8Used', 'v8Total', 'external'];
console.log(`\n| ${cols.join(' | ')} |\n| ${cols.map(() => '---').join(' | ')} |`);
for (const r of rows) console.log(`| ${cols.map((c) => r[c]).join(' | ')} |`);
console.log('\nMB; rss, private, mallocHeap ([heap]), anon: before the GC; rssAfterGc and v8*/external: after a full GC.');
for (const r of rows) if (r.events) console.log(`${r.phase}: ${r.events}`);
