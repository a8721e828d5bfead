/**
 * The agent as one executable per target: an esbuild bundle of src/agent/bin.ts injected into the
 * official Node binary as a single-executable-application blob (Node's own SEA feature).
 * Traps (DESIGN.md section 3): strip before injecting (stripping afterwards removes the blob); the
 * blob is made by the target's own Node under qemu (a blob from 64-bit Node crashes 32-bit Node);
 * inside a Node 20 SEA `require` loads built-ins only, so the bundle must hold every dependency.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { emulatedCommand } from './emulation.js';
import { lazyChunkPlugin } from './lazy-chunks.js';
import type { NodeRuntime } from './node-runtime.js';
import type { Target } from './targets.js';

/** The fuse Node looks for to know a blob was injected (nodejs.org/api/single-executable-applications.html). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * One minified CommonJS file with every dependency the agent needs, and beside it the packed lazy
 * chunks (lazy-chunks.ts: LAZY_CHUNKS' files), which must travel with it; returns its size per input package.
 */
export async function bundleAgent(entry: string, outFile: string, version: string, nodeTarget: string): Promise<Record<string, number>> {
  const shared = {
    target: nodeTarget,
    define: {
      __CLOUDCAM_VERSION__: JSON.stringify(version),
      // node-cron's ESM build reads import.meta.url (only for its background-task daemon, which we
      // do not use); a CJS bundle has no import.meta, so it gets the executable's URL instead.
      'import.meta.url': '__cloudcam_import_meta_url',
    },
    banner: { js: 'var __cloudcam_import_meta_url=require("node:url").pathToFileURL(process.execPath).href;' },
  };
  // The repository root: the entry is src/agent/bin.ts.
  const lazy = await lazyChunkPlugin(path.resolve(path.dirname(entry), '..', '..'), shared);
  const result = await build({
    ...shared,
    entryPoints: [entry],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    sourcemap: false,
    metafile: true,
    logLevel: 'warning',
    plugins: [lazy.plugin],
  });
  lazy.write(path.dirname(outFile));
  const sizes: Record<string, number> = {};
  for (const inputs of [...Object.values(result.metafile.outputs).map((o) => o.inputs), lazy.inputs]) {
    for (const [file, info] of Object.entries(inputs)) {
      if (file.startsWith('cloudcam-lazy:')) continue; // the embedded chunk: its own inputs are counted
      const parts = file.split('/');
      const key = parts[0] === 'node_modules' ? parts.slice(1, parts[1]?.startsWith('@') ? 3 : 2).join('/') : '(cloudcam)';
      sizes[key] = (sizes[key] ?? 0) + info.bytesInOutput;
    }
  }
  return sizes;
}

/**
 * Options of the blob (nodejs.org/api/single-executable-applications.html): the defaults are what
 * ships; others are for measuring (`scripts/bench-memory.mjs`, docs/benchmarks.md). `execArgv`
 * (Node 24.6+ only) passes node and V8 options that NODE_OPTIONS refuses.
 */
export interface SeaOptions {
  useCodeCache?: boolean;
  execArgv?: string[];
}

/** Strips a copy of the target's Node, makes the blob with that Node under qemu, injects it. */
export function makeSeaExecutable(target: Target, runtime: NodeRuntime, bundle: string, outExe: string, workDir: string, options: SeaOptions = {}): void {
  fs.mkdirSync(workDir, { recursive: true });
  fs.copyFileSync(runtime.binary, outExe);
  fs.chmodSync(outExe, 0o755);
  execFileSync(target.strip, ['--strip-all', outExe]);

  const blob = path.join(workDir, 'sea-prep.blob');
  const seaConfig = path.join(workDir, 'sea-config.json');
  // The blob records `main` as written in the config: a path relative to workDir (the bundle copied
  // there under a fixed name) keeps the executable byte-identical whichever folder the build ran in
  // (make test-package builds twice, in build/package-work and build/package-again-work).
  fs.copyFileSync(bundle, path.join(workDir, SEA_MAIN));
  const extra = options.execArgv?.length ? { execArgv: options.execArgv } : {};
  fs.writeFileSync(seaConfig, JSON.stringify({ main: SEA_MAIN, output: 'sea-prep.blob', disableExperimentalSEAWarning: true, useCodeCache: options.useCodeCache ?? false, useSnapshot: false, ...extra }));
  const cmd = emulatedCommand(target, runtime.binary, ['--experimental-sea-config', seaConfig]);
  execFileSync(cmd.file, cmd.args, { cwd: workDir, stdio: ['ignore', 'ignore', 'inherit'] });

  const postject = path.resolve('node_modules', 'postject', 'dist', 'cli.js');
  // postject warns "Can't find string offset for section name '.note'" on stripped binaries: harmless.
  execFileSync(process.execPath, [postject, outExe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { stdio: 'ignore' });
  fs.rmSync(blob);
  fs.rmSync(seaConfig);
  fs.rmSync(path.join(workDir, SEA_MAIN));
}

/** The bundle's name inside the SEA blob (relative to the blob's work dir). */
const SEA_MAIN = 'agent.cjs';
