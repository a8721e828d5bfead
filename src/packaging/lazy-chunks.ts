/**
 * Code the agent loads only when a feature is first used (live view: werift, signalling, the RTSP
 * session) is bundled on its own and carried inside the agent bundle as source text, compiled on the
 * first import(). esbuild's own lazy wrapping of an import() (format cjs, no code splitting) defers
 * running a module but not compiling it: V8 still parses every function of the one script at start,
 * which cost the idle agent ~10 MB of RSS for werift's ~850 KB (measured, docs/benchmarks.md). A
 * string literal inside a function that never runs is only scanned, but the scanner still buffers
 * it (V8's literal buffer): measured, the ~330 KB packed chunk as a literal left malloc's heap 4.5 MB
 * higher for good (Node 20 single executable, idle RSS 51.6 -> 56.8 MB; docs/benchmarks.md). A
 * comment is skipped without a copy, so the packed chunk is a comment in the body of a function
 * whose source text (Function.prototype.toString: V8 keeps every function's source) is read on the
 * first import. esbuild drops comments, so `embed` puts it in after bundling, where a marker string
 * stood. One file stays one file, so the single executable and the Debian layout need nothing more.
 */
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
}

export const LAZY_CHUNKS: readonly LazyChunk[] = [{ specifier: './lazy.js', importer: 'src/agent/features/live/feature.ts', entry: 'src/agent/features/live/lazy.ts', name: 'cloudcam-live.cjs' }];

/**
 * The chunks built with the agent bundle's own options, the plugin that stands a marker for each, and
 * `embed`, which puts each packed chunk in place of its marker in the written bundle; `inputs` for the
 * license and size report.
 */
export async function lazyChunkPlugin(root: string, options: Pick<BuildOptions, 'target' | 'define' | 'banner'>): Promise<{ plugin: Plugin; inputs: Metafile['outputs'][string]['inputs']; embed: (bundle: string) => string }> {
  const chunks = new Map<string, LazyChunk>();
  const inputs: Metafile['outputs'][string]['inputs'] = {};
  const packed = new Map<string, string>();
  for (const chunk of LAZY_CHUNKS) {
    const result = await build({ ...options, entryPoints: [path.join(root, chunk.entry)], bundle: true, platform: 'node', format: 'cjs', minify: true, legalComments: 'none', write: false, metafile: true, logLevel: 'warning' });
    const code = result.outputFiles[0]!.text;
    if (/\bimport\(/.test(code.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g, ''))) {
      throw new Error(`lazy chunk ${chunk.entry} contains import(): vm-compiled code cannot import; bundle it statically`);
    }
    chunks.set(path.join(root, chunk.importer), chunk);
    // Base64 has no "*", so the packed text can never close the comment it is put in.
    packed.set(markerOf(chunk), brotliCompressSync(Buffer.from(code, 'utf8'), { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: code.length } }).toString('base64'));
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
        // Runs once, on the first import() (esbuild wraps this CommonJS module lazily); `require` is
        // the bundle's (built-ins only inside a single executable, all a bundled chunk needs).
        // `embed` replaces the marker string with the packed chunk as a comment.
        const contents = `function packed() { return ${JSON.stringify(markerOf(chunk))}; }
const text = packed.toString();
const src = require('node:zlib').brotliDecompressSync(Buffer.from(text.slice(text.indexOf('/*') + 2, text.lastIndexOf('*/')), 'base64')).toString('utf8');
const fn = require('node:vm').runInThisContext(require('node:module').wrap(src), { filename: ${JSON.stringify(chunk.name)} });
const m = { exports: {} };
fn.call(m.exports, m.exports, require, m, ${JSON.stringify(chunk.name)}, '.');
module.exports = m.exports;
`;
        return { contents, loader: 'js' };
      });
    },
  };
  const embed = (bundle: string): string => {
    let out = bundle;
    for (const [marker, base64] of packed) {
      const quoted = new RegExp(`(["'\`])${marker.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\1`, 'g');
      const found = out.match(quoted)?.length ?? 0;
      if (found !== 1) throw new Error(`lazy chunk marker ${marker}: found ${found} times in the bundle, expected once (did the minifier change how it is written?)`);
      out = out.replace(quoted, () => `/*${base64}*/""`);
    }
    return out;
  };
  return { plugin, inputs, embed };
}

function markerOf(chunk: LazyChunk): string {
  return `@@cloudcam-lazy-chunk:${chunk.name}@@`;
}
