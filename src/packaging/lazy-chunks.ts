/**
 * Code the agent loads only when a feature is first used (live view: werift, signalling, the RTSP
 * session) is bundled on its own, brotli-packed into a file of its own that ships next to the
 * executable (or, for the Debian layout, the bundle), and compiled on the first import(). esbuild's
 * own lazy wrapping of an import() (format cjs, no code splitting) defers running a module but not
 * compiling it: V8 still parses every function of the one script at start, which cost the idle agent
 * ~10 MB of RSS for werift's ~850 KB (measured, docs/benchmarks.md). Carried inside the bundle, even
 * as a comment (a string literal was worse: V8's scanner buffers it, +4.5 MB of malloc heap), the
 * ~330 KB of packed text stayed in V8's heap as part of the script's source for the life of the
 * process: 0.7 MB of idle RSS on Node 20 and 26 (docs/benchmarks.md). So the chunk is a file.
 *
 * The file is found from the bundle's own directory (`__dirname`: inside a single executable, the
 * executable's; in the Debian layout, agent.js's), never from the working directory or the
 * environment, and its SHA-256, taken at build time, is baked into the bundle and checked before a
 * byte of it is unpacked or compiled: a stale or partly written file (an interrupted update) is
 * refused with a clear error. Who can write that directory can replace the executable itself, so
 * the hash is not a defence against them (docs/security.md).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants as zlibConstants } from 'node:zlib';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';

export interface LazyChunk {
  /** The module feature code imports with import() (relative specifier as written in the importer). */
  specifier: string;
  /** The importer, relative to the repository root. */
  importer: string;
  /** The chunk's entry, relative to the repository root. */
  entry: string;
  /** The file name its code reports in stack traces. */
  name: string;
  /** The packed file's name, next to the executable (or the Debian layout's agent.js); must be in every package. */
  file: string;
  /** What the chunk serves, for the error when its file is missing or does not match. */
  what: string;
}

export const LAZY_CHUNKS: readonly LazyChunk[] = [
  { specifier: './lazy.js', importer: 'src/agent/features/live/feature.ts', entry: 'src/agent/features/live/lazy.ts', name: 'cloudcam-live.cjs', file: 'cloudcam-live.cjs.br', what: "live view's code" },
];

/**
 * The chunks built with the agent bundle's own options and the plugin that puts a loader for each
 * in the bundle; `write(dir)` writes the packed files (into the bundle's directory); `inputs` for the
 * license and size report.
 */
export async function lazyChunkPlugin(root: string, options: Pick<BuildOptions, 'target' | 'define' | 'banner'>): Promise<{ plugin: Plugin; inputs: Metafile['outputs'][string]['inputs']; write: (dir: string) => void }> {
  const chunks = new Map<string, LazyChunk>();
  const inputs: Metafile['outputs'][string]['inputs'] = {};
  const packed = new Map<LazyChunk, Buffer>();
  for (const chunk of LAZY_CHUNKS) {
    const result = await build({ ...options, entryPoints: [path.join(root, chunk.entry)], bundle: true, platform: 'node', format: 'cjs', minify: true, legalComments: 'none', write: false, metafile: true, logLevel: 'warning' });
    const code = result.outputFiles[0]!.text;
    if (/\bimport\(/.test(code.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g, ''))) {
      throw new Error(`lazy chunk ${chunk.entry} contains import(): vm-compiled code cannot import; bundle it statically`);
    }
    chunks.set(path.join(root, chunk.importer), chunk);
    packed.set(chunk, brotliCompressSync(Buffer.from(code, 'utf8'), { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: code.length } }));
    for (const output of Object.values(result.metafile.outputs)) Object.assign(inputs, output.inputs);
  }
  const plugin: Plugin = {
    name: 'cloudcam-lazy-chunks',
    setup(b) {
      b.onResolve({ filter: /^\.\/[\w.-]+\.js$/ }, (args) => {
        const hit = chunks.get(args.importer);
        return hit && args.path === hit.specifier ? { path: hit.entry, namespace: 'cloudcam-lazy', pluginData: hit } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'cloudcam-lazy' }, (args) => {
        const chunk = args.pluginData as LazyChunk;
        return { contents: loaderSource(chunk, sha256(packed.get(chunk)!)), loader: 'js' };
      });
    },
  };
  const write = (dir: string): void => {
    for (const [chunk, bytes] of packed) fs.writeFileSync(path.join(dir, chunk.file), bytes, { mode: 0o644 });
  };
  return { plugin, inputs, write };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The module that stands for a chunk in the bundle. It runs on the first import() (esbuild
 * wraps this CommonJS module lazily); `require` is the bundle's (built-ins only inside a single
 * executable, all a bundled chunk needs). A throw here rejects that import(); esbuild's wrapper
 * forgets a module whose first run threw, so the next request reads the file again.
 */
function loaderSource(chunk: LazyChunk, hash: string): string {
  const prefix = `${chunk.what} file `;
  return `const path = require('node:path');
const file = path.join(__dirname, ${JSON.stringify(chunk.file)});
let packed;
try {
  packed = require('node:fs').readFileSync(file);
} catch (err) {
  throw new Error(${JSON.stringify(prefix)} + file + ' cannot be read (' + err.message + '): reinstall the package');
}
const hash = require('node:crypto').createHash('sha256').update(packed).digest('hex');
if (hash !== ${JSON.stringify(hash)}) {
  throw new Error(${JSON.stringify(prefix)} + file + ' does not match this build (sha256 ' + hash.slice(0, 16) + '..., built with ' + ${JSON.stringify(hash.slice(0, 16))} + '..., ' + packed.length + ' bytes): reinstall the package');
}
const src = require('node:zlib').brotliDecompressSync(packed).toString('utf8');
const fn = require('node:vm').runInThisContext(require('node:module').wrap(src), { filename: ${JSON.stringify(chunk.name)} });
const m = { exports: {} };
fn.call(m.exports, m.exports, require, m, ${JSON.stringify(chunk.name)}, '.');
module.exports = m.exports;
`;
}
