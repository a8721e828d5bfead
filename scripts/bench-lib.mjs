// Shared by `make bench`'s scripts (bench.mjs: requested snapshots; bench-events.mjs: event
// snapshots): percentiles, a process's memory from /proc, the shipped agent in a packaged layout, and
// the table they print.
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
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

/**
 * The agent that ships: the esbuild bundle of src/agent/bin.ts in a packaged layout under dir, its
 * settings in localdata/cloudcam.json (the devcloud agent config, changed by `edit`). Returns the
 * argv and environment that start it.
 */
export async function shippedAgent(dir, configPath, edit = (c) => c) {
  const { bundleAgent } = await import(path.join(root, 'dist/packaging/sea.js'));
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
  await mkdir(path.join(dir, 'localdata'), { recursive: true });
  const bundle = path.join(dir, 'cloudcam-agent.cjs');
  await bundleAgent(path.join(root, 'src/agent/bin.ts'), bundle, pkg.version, `node${process.versions.node.split('.')[0]}`);
  await writeFile(path.join(dir, 'cloudcam.defaults.json'), '{}\n');
  await copyFile(configPath, path.join(dir, 'localdata', 'cloudcam.json'));
  const config = JSON.parse(await readFile(path.join(dir, 'localdata', 'cloudcam.json'), 'utf8'));
  await writeFile(path.join(dir, 'localdata', 'cloudcam.json'), JSON.stringify(edit(config), null, 2));
  return { argv: [bundle], env: { CLOUDCAM_APP_DIR: dir } };
}

export const startProcess = (argv, env = {}) => spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } });

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
