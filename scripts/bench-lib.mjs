// Shared by `make bench`'s scripts (bench.mjs: requested snapshots; bench-events.mjs: event
// snapshots): percentiles, a process's memory from /proc, the shipped agent in a packaged layout, and
// the table they print.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
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
 * The agent as it ships, for this machine: the x64 package (single executable of the official Node
 * of the newest LTS line) copied to dir and started by its launcher, with the launcher's runtime
 * settings; its settings in localdata/cloudcam.json (the devcloud agent config, changed by `edit`).
 * Returns the command, argv and environment that start it (the launcher execs: same pid).
 */
export async function shippedAgent(dir, configPath, edit = (c) => c) {
  if (!existsSync(path.join(BENCH_PACKAGE_STAGE, 'cloudcam'))) throw new Error(`no x64 package at ${BENCH_PACKAGE_STAGE}: make bench builds it (ARCH=x64 PACKAGE_DIR=build/bench-package node dist/packaging/cli.js)`);
  await cp(BENCH_PACKAGE_STAGE, dir, { recursive: true });
  await writeSite(dir, configPath, edit);
  const { node } = JSON.parse(await readFile(path.join(dir, 'runtime.json'), 'utf8'));
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
export const startProcess = (agent, env = {}, stdout = 'ignore') =>
  spawn(agent.command, agent.argv, { stdio: ['ignore', stdout, 'inherit'], env: { ...process.env, ...agent.env, ...env } });

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
