/**
 * Debian builds libnode with some JavaScript builtins left out of the library ("externalised":
 * acorn, cjs-module-lexer, undici, minimatch), loaded at run time from paths compiled in as C strings
 * (`NODE_SHARED_BUILTIN_*_PATH=/usr/share/nodejs/...`); libnode aborts when one is missing. A camera
 * has no /usr/share/nodejs, so the package carries those files and the strings are rewritten in place
 * to paths relative to the package directory (where the launcher starts the runtime).
 *
 * In place means the library's layout cannot move: each new path must fit in the old one's bytes,
 * and is padded with NULs (a C string ends at its first NUL). Only whole strings are rewritten (a NUL
 * on both sides): the same paths also occur inside `process.config`'s JSON text, which stays as built.
 * Every `/usr/share/nodejs/` string must have a replacement, so that a Debian update that
 * externalises one more builtin fails the build instead of aborting on a camera.
 */

export const DEBIAN_BUILTINS_DIR = '/usr/share/nodejs/';

export interface PathRewrite {
  from: string;
  to: string;
  /** How many whole strings were rewritten. */
  count: number;
}

/** The C strings (NUL on both sides) in lib that start with prefix. */
export function embeddedPaths(lib: Buffer, prefix: string): string[] {
  const found = new Set<string>();
  const needle = Buffer.from(`\0${prefix}`);
  for (let i = lib.indexOf(needle); i !== -1; i = lib.indexOf(needle, i + 1)) {
    const end = lib.indexOf(0, i + 1);
    if (end === -1) break;
    found.add(lib.subarray(i + 1, end).toString('latin1'));
  }
  return [...found].sort();
}

/**
 * Rewrites, in a copy of lib, every whole C string `from` to `to` + NUL padding. Throws when a new
 * path is longer than the one it replaces, when a `from` is not in the library, or when the library
 * holds a path under `mustCover` that no rewrite replaces.
 */
export function rewriteEmbeddedPaths(lib: Buffer, rewrites: Record<string, string>, mustCover = DEBIAN_BUILTINS_DIR): { lib: Buffer; rewrites: PathRewrite[] } {
  const out = Buffer.from(lib);
  const done: PathRewrite[] = [];
  for (const [from, to] of Object.entries(rewrites)) {
    if (Buffer.byteLength(to) > Buffer.byteLength(from)) {
      throw new RangeError(`cannot rewrite "${from}" to "${to}": the new path is ${Buffer.byteLength(to)} bytes, longer than the ${Buffer.byteLength(from)} it replaces (choose a shorter one)`);
    }
    if (to.includes('\0')) throw new RangeError(`the new path for "${from}" contains a NUL`);
    const needle = Buffer.from(`\0${from}\0`);
    const replacement = Buffer.alloc(Buffer.byteLength(from));
    replacement.write(to);
    let count = 0;
    for (let i = out.indexOf(needle); i !== -1; i = out.indexOf(needle, i + needle.length - 1)) {
      replacement.copy(out, i + 1);
      count++;
    }
    if (count === 0) throw new Error(`"${from}" is not a string in the library: the runtime was built differently than expected; check its NODE_SHARED_BUILTIN_* paths`);
    done.push({ from, to, count });
  }
  const left = embeddedPaths(out, mustCover);
  if (left.length > 0) throw new Error(`the library still loads ${left.join(', ')}: add a rewrite for each (a builtin the package does not carry aborts the runtime)`);
  return { lib: out, rewrites: done };
}
