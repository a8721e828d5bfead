// Shared by `make bench`'s scripts (bench.mjs: requested snapshots; bench-events.mjs: event
// snapshots): percentiles, a process's memory from /proc, the shipped agent in a packaged layout, and
// the table they print.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, link, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

export const rssOf = async (pid) => {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const privateKb = Number(/Private_Dirty:\s+(\d+) kB/.exec(rollup)?.[1] ?? NaN);
  // RSS counts the node binary's own pages (~40 MB, file-backed); private is the agent's own memory.
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024, private: privateKb / 1024 };
};

/** Where `make bench` builds this machine's package (ARCH=x64 PACKAGE_DIR=build/bench-package). */
export const BENCH_PACKAGE_STAGE = path.join(root, 'build', 'bench-package-work', 'x64', 'eap');

async function writeSite(dir, configPath, edit) {
  await mkdir(path.join(dir, 'localdata'), { recursive: true });
  const config = JSON.parse(await readFile(configPath, 'utf8'));
  await writeFile(path.join(dir, 'localdata', 'cloudcam.json'), JSON.stringify(edit(config), null, 2));
}

/**
 * Drops a file's pages from the page cache (GNU dd's documented `iflag=nocache count=0`), so that a
 * program started from it maps its pages as read from disk, as after a camera's reboot. Its file-backed
 * RSS otherwise depends on how the file came into the cache: the executable just written by the build
 * (one 100 MB write) sits in large folios, which the kernel maps whole on a fault: the same Node 26
 * single executable idled at 53.4 MB RSS so and at 39.8 MB from disk (docs/benchmarks.md).
 */
export function dropFromPageCache(file) {
  execFileSync('sync', [file]);
  execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

/**
 * The agent as it ships, for this machine: the x64 package (single executable of the official Node
 * of the newest LTS line, or the one in `stage`) in dir, started by its launcher with the launcher's
 * runtime settings; its settings in localdata/cloudcam.json (the devcloud agent config, changed by
 * `edit`). The executable is hard-linked, not copied (one copy in the page cache for every run).
 * Returns the command, argv and environment that start it (the launcher execs: same pid); with
 * `direct`, the executable itself with that environment instead of the launcher (to measure runtime
 * settings the launcher does not accept).
 */
export async function shippedAgent(dir, configPath, edit = (c) => c, { stage = BENCH_PACKAGE_STAGE, direct } = {}) {
  if (!existsSync(path.join(stage, 'cloudcam'))) throw new Error(`no x64 package at ${stage}: make bench builds it (ARCH=x64 PACKAGE_DIR=build/bench-package node dist/packaging/cli.js)`);
  await cp(stage, dir, { recursive: true, filter: (src) => path.basename(src) !== 'cloudcam-agent' });
  await link(path.join(stage, 'cloudcam-agent'), path.join(dir, 'cloudcam-agent')).catch(() => cp(path.join(stage, 'cloudcam-agent'), path.join(dir, 'cloudcam-agent')));
  dropFromPageCache(path.join(dir, 'cloudcam-agent'));
  await writeSite(dir, configPath, edit);
  const { node } = JSON.parse(await readFile(path.join(dir, 'runtime.json'), 'utf8'));
  if (direct) return { command: path.join(dir, 'cloudcam-agent'), argv: [], env: { CLOUDCAM_APP_DIR: dir, NODE_OPTIONS: '', ...direct }, node };
  return { command: 'sh', argv: [path.join(dir, 'cloudcam')], env: {}, node };
}

/**
 * For comparison: the same agent as an esbuild bundle of src/agent/bin.ts run by this machine's node
 * (no launcher, default V8 settings), in a packaged layout under dir.
 */
export async function bundledAgent(dir, configPath, edit = (c) => c) {
  const { bundleAgent } = await import(path.join(root, 'dist/packaging/sea.js'));
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
  await mkdir(path.join(dir, 'localdata'), { recursive: true });
  const bundle = path.join(dir, 'cloudcam-agent.cjs');
  await bundleAgent(path.join(root, 'src/agent/bin.ts'), bundle, pkg.version, `node${process.versions.node.split('.')[0]}`);
  await writeFile(path.join(dir, 'cloudcam.defaults.json'), '{}\n');
  await writeSite(dir, configPath, edit);
  return { command: process.execPath, argv: [bundle], env: { CLOUDCAM_APP_DIR: dir } };
}

/** Starts an agent from shippedAgent/bundledAgent; stdout piped when `stdout` is 'pipe'. */
export const startProcess = (agent, env = {}, stdout = 'ignore', stderr = 'inherit') =>
  spawn(agent.command, agent.argv, { stdio: ['ignore', stdout, stderr], env: { ...process.env, ...agent.env, ...env } });

export const stopAgent = async (child) => {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
};

export function printTable(rows) {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  console.log(`\n| ${'measure'.padEnd(w0)} | ${'value'.padEnd(w1)} | note |\n| ${'-'.repeat(w0)} | ${'-'.repeat(w1)} | --- |`);
  for (const [a, b, c] of rows) console.log(`| ${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c} |`);
}

/**
 * Where a process's memory is, from /proc/PID/smaps: totals per mapping name (the executable,
 * `[heap]` = malloc's main arena, `[anon]` = V8's heap pages, other malloc arenas, thread stacks), and
 * the largest private regions one by one. MB.
 */
export async function smapsBreakdown(pid, top = 6) {
  const text = await readFile(`/proc/${pid}/smaps`, 'utf8');
  const regions = [];
  let cur;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      cur = { range: `${head[1]}-${head[2]}`, size: (parseInt(head[2], 16) - parseInt(head[1], 16)) / 1048576, name: head[3] ? path.basename(head[3]) : '[anon]', rss: 0, privateDirty: 0 };
      regions.push(cur);
      continue;
    }
    const f = /^(Rss|Private_Dirty):\s+(\d+) kB/.exec(line);
    if (f && cur) cur[f[1] === 'Rss' ? 'rss' : 'privateDirty'] += Number(f[2]) / 1024;
  }
  const byName = {};
  for (const r of regions) {
    const t = (byName[r.name] ??= { rss: 0, privateDirty: 0, regions: 0 });
    t.rss += r.rss;
    t.privateDirty += r.privateDirty;
    t.regions += 1;
  }
  const largest = [...regions].sort((a, b) => b.privateDirty - a.privateDirty).slice(0, top);
  return { byName, largest };
}

/** A snapshot requested through the cloud handler: resolves with the agent's final report for it. */
export const reportFor = (dc, thing, id) =>
  new Promise((resolve) => {
    const on = (key, result) => {
      const rep = result.accepted.state?.reported?.snapshot;
      if (key.thing === thing && rep?.id === id) {
        dc.store.off('updated', on);
        resolve(rep);
      }
    };
    dc.store.on('updated', on);
  });

/**
 * Starts an agent (shippedAgent/bundledAgent) and waits until it is idle: connected, its first
 * snapshot (the cloud asks for one when it comes online) uploaded, then 2 s with nothing in flight.
 * Returns the child, its memory then (/proc) and the V8 heap (the agent's heap probe, SIGUSR2; no
 * forced GC unless the runtime was started with --expose-gc), in MB.
 */
export async function startIdle(dc, thing, agent, env = {}) {
  const handled = new Promise((resolve) => dc.rules.once('handled', (r) => resolve(r)));
  const child = startProcess(agent, { CLOUDCAM_TEST_HEAP_PROBE: '1', CLOUDCAM_LOG_LEVEL: 'info', ...env }, 'pipe', 'pipe');
  const probes = [];
  const { createInterface } = await import('node:readline');
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      const e = JSON.parse(line.replace(/^<\d>/, ''));
      if (e.event === 'heap.probe') probes.push(e);
    } catch {
      // not a JSON line
    }
  });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const exited = new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`agent exited (${code}) before its first snapshot: ${stderr.trim()}`))));
  const first = await Promise.race([handled, exited]);
  const report = await reportFor(dc, thing, first.request.id);
  if (report.status !== 'uploaded') throw new Error(`first snapshot ${report.status}: ${report.error}`);
  await new Promise((r) => setTimeout(r, 2000));
  const idle = await rssOf(child.pid);
  const smaps = await smapsBreakdown(child.pid);
  child.kill('SIGUSR2');
  const until = Date.now() + 5000;
  while (probes.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const p = probes[0];
  const mb = (b) => (b === undefined ? NaN : b / 1048576);
  const spaces = p?.spaces ?? {};
  return {
    child,
    idle: { ...idle, heapUsed: mb(p?.heapUsed), heapTotal: mb(p?.heapTotal), external: mb(p?.external), codeSpace: mb((spaces.code_space ?? 0) + (spaces.code_large_object_space ?? 0)), spaces, smaps, builtins: p?.builtins ?? [] },
  };
}

/** N snapshots one after another through the cloud handler; the agent's final report of each (`ms`, `bytes`). */
export async function snapshots(dc, thing, n) {
  const reports = [];
  for (let i = 0; i < n; i++) {
    const r = await dc.handler.handle({ kind: 'snapshot', thing, reason: 'bench' });
    const rep = await reportFor(dc, thing, r.request.id);
    if (rep.status !== 'uploaded') throw new Error(`snapshot ${i} ${rep.status}: ${rep.error}`);
    reports.push(rep);
  }
  return reports;
}

/**
 * Live view's benches (bench-live.mjs, bench-live-memory.mjs): devcloud in-process with one camera in
 * a temp dir, agent config with JSON logs, no schedule and `live.idleSeconds`; the viewer helpers.
 */
export async function startLiveBench(name, idleSeconds) {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { startDevcloud } = await import(path.join(root, 'dist/devcloud/devcloud.js'));
  const { createLogger } = await import(path.join(root, 'dist/lib/log.js'));
  const viewer = await import(path.join(root, 'dist/packaging/live-viewer.js'));
  const dir = await mkdtemp(path.join(tmpdir(), `cloudcam-${name}-`));
  const dc = await startDevcloud({
    stateDir: dir,
    cameras: 1,
    log: createLogger({ name: 'devcloud', level: 'warn' }),
    thumbnails: false,
    agentOverrides: { log: { level: 'info', format: 'json' }, schedule: { cron: '' }, live: { idleSeconds } },
  });
  const thing = 'camera-1';
  return { dir, dc, thing, info: dc.info, camera: dc.cameras.get(thing), configPath: dc.info.devices[thing].agentConfigPath, viewer };
}
