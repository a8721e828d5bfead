import { describe, expect, it } from 'vitest';
import { embeddedPaths, rewriteEmbeddedPaths } from './libnode-paths.js';

/** A fake library: C strings as a linker lays them out, and the config JSON that also names the paths. */
function lib(): Buffer {
  return Buffer.concat([
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]),
    Buffer.from('/usr/share/nodejs/acorn/dist/acorn.js\0'),
    Buffer.from('some other string\0'),
    Buffer.from('/usr/share/nodejs/undici/undici-fetch.js\0'),
    Buffer.from('{"defines": ["NODE_SHARED_BUILTIN_ACORN_PATH=/usr/share/nodejs/acorn/dist/acorn.js"]}\0'),
    Buffer.from('/usr/share/nodejs/acorn/dist/acorn.js\0'),
  ]);
}

const both = { '/usr/share/nodejs/acorn/dist/acorn.js': 'builtins/acorn/dist/acorn.js', '/usr/share/nodejs/undici/undici-fetch.js': 'builtins/undici/undici-fetch.js' };

describe('libnode path rewriting', () => {
  it('finds the whole C strings under the prefix, not the text inside the config JSON', () => {
    expect(embeddedPaths(lib(), '/usr/share/nodejs/')).toEqual(['/usr/share/nodejs/acorn/dist/acorn.js', '/usr/share/nodejs/undici/undici-fetch.js']);
  });

  it('rewrites every occurrence in place, NUL-padded, leaving the size and the config JSON alone', () => {
    const before = lib();
    const { lib: after, rewrites } = rewriteEmbeddedPaths(before, both);
    expect(after.length).toBe(before.length);
    expect(rewrites).toEqual([
      { from: '/usr/share/nodejs/acorn/dist/acorn.js', to: 'builtins/acorn/dist/acorn.js', count: 2 },
      { from: '/usr/share/nodejs/undici/undici-fetch.js', to: 'builtins/undici/undici-fetch.js', count: 1 },
    ]);
    const at = after.indexOf('builtins/acorn/dist/acorn.js');
    const old = '/usr/share/nodejs/acorn/dist/acorn.js';
    // The new path, then NULs up to where the old string's terminator was.
    expect(after.subarray(at, at + old.length + 1)).toEqual(Buffer.concat([Buffer.from('builtins/acorn/dist/acorn.js'), Buffer.alloc(old.length - 'builtins/acorn/dist/acorn.js'.length + 1)]));
    expect(after.toString('latin1')).toContain('"NODE_SHARED_BUILTIN_ACORN_PATH=/usr/share/nodejs/acorn/dist/acorn.js"');
    expect(before.toString('latin1')).toContain('\0/usr/share/nodejs/acorn/dist/acorn.js\0'); // the input is not modified
  });

  it('refuses a new path longer than the old one, naming both', () => {
    expect(() => rewriteEmbeddedPaths(lib(), { ...both, '/usr/share/nodejs/acorn/dist/acorn.js': '/usr/local/packages/cloudcam/builtins/acorn.js' })).toThrow(
      /"\/usr\/share\/nodejs\/acorn\/dist\/acorn.js" to "\/usr\/local\/packages\/cloudcam\/builtins\/acorn.js": the new path is 46 bytes, longer than the 37/,
    );
  });

  it('accepts a new path exactly as long as the old one', () => {
    const from = '/usr/share/nodejs/undici/undici-fetch.js';
    const same = 'x'.repeat(from.length);
    expect(rewriteEmbeddedPaths(lib(), { ...both, [from]: same }).rewrites[1]?.count).toBe(1);
  });

  it('fails when the library loads a builtin that has no rewrite', () => {
    expect(() => rewriteEmbeddedPaths(lib(), { '/usr/share/nodejs/acorn/dist/acorn.js': 'builtins/acorn.js' })).toThrow(/still loads \/usr\/share\/nodejs\/undici\/undici-fetch.js/);
  });

  it('fails when an expected path is not in the library', () => {
    expect(() => rewriteEmbeddedPaths(lib(), { ...both, '/usr/share/nodejs/minimatch/index.js': 'builtins/m.js' })).toThrow(/"\/usr\/share\/nodejs\/minimatch\/index.js" is not a string in the library/);
  });
});
