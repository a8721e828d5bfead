/**
 * Where the S3 stand-in keeps an object on disk. S3 keys are any UTF-8 up to 1024 bytes, so `a` and
 * `a/b`, `..`, `a//b` or `a/` are all valid keys; a file tree cannot hold all of them as paths. Two
 * places, so that snapshots stay easy to find:
 *  - plain keys (every `/`-separated segment non-empty, not `.` or `..`, at most 255 bytes, no NUL)
 *    are files at `{root}/{bucket}/{key}`, e.g. `.devcloud/s3/cloudcam-snapshots/camera-1/2026/...jpg`;
 *  - every other key, and a plain key whose path is taken by a folder or runs through a file (`a` after
 *    `a/b`, `a/b` after `a`), is `{root}/.keys/{bucket}/{sha256(key)}` with the key itself in
 *    `{sha256(key)}.key` beside it.
 * A key, once stored, keeps its place: the escaped place is looked up first, and a plain key only
 * goes there when its plain path cannot be used. Nothing is ever deleted (the stand-in has no DELETE).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

const ESCAPED_DIR = '.keys';
const KEY_SUFFIX = '.key';
const MAX_SEGMENT_BYTES = 255;
/** What rename()/mkdir() answer when a plain path collides with a folder or a file. */
const PATH_TAKEN = new Set(['EISDIR', 'ENOTDIR', 'EEXIST', 'ENOTEMPTY']);

export interface StoredFile {
  key: string;
  path: string;
}

/** True when the key can be a relative path of its own: segments non-empty, not `.`/`..`, short, no NUL. */
export function isPlainKey(key: string): boolean {
  return key.split('/').every((s) => s !== '' && s !== '.' && s !== '..' && !s.includes('\0') && Buffer.byteLength(s, 'utf8') <= MAX_SEGMENT_BYTES);
}

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() ?? false;
}

export class ObjectFiles {
  readonly bucketDir: string;
  readonly escapedDir: string;

  constructor(rootDir: string, bucket: string) {
    this.bucketDir = path.join(rootDir, bucket);
    this.escapedDir = path.join(rootDir, ESCAPED_DIR, bucket);
  }

  async init(): Promise<void> {
    await mkdir(this.bucketDir, { recursive: true });
    await mkdir(this.escapedDir, { recursive: true });
  }

  #escaped(key: string): string {
    return path.join(this.escapedDir, createHash('sha256').update(key, 'utf8').digest('hex'));
  }

  #plain(key: string): string {
    return path.join(this.bucketDir, ...key.split('/'));
  }

  /** The file holding the object `key`, or undefined when there is none. */
  async locate(key: string): Promise<string | undefined> {
    const escaped = this.#escaped(key);
    if (await isFile(escaped)) return escaped;
    if (!isPlainKey(key)) return undefined;
    const plain = this.#plain(key);
    return (await isFile(plain)) ? plain : undefined;
  }

  /** Moves a complete temp file (on the same file system) into place as `key`; returns where it went. */
  async put(key: string, tmpPath: string): Promise<string> {
    const escaped = this.#escaped(key);
    if (!(await isFile(escaped)) && isPlainKey(key)) {
      const plain = this.#plain(key);
      try {
        await mkdir(path.dirname(plain), { recursive: true });
        // rename() within one file system is atomic: readers see the old object or the whole new one.
        await rename(tmpPath, plain);
        return plain;
      } catch (err) {
        if (!PATH_TAKEN.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
      }
    }
    // The key file first: a listing counts an escaped object only once its key is readable.
    await writeFile(`${escaped}${KEY_SUFFIX}`, key, { encoding: 'utf8', mode: 0o644 });
    await rename(tmpPath, escaped);
    return escaped;
  }

  /** Every stored object, in no particular order. */
  async list(): Promise<StoredFile[]> {
    const plain = (await walk(this.bucketDir)).map((rel) => ({ key: rel, path: path.join(this.bucketDir, ...rel.split('/')) }));
    const escaped: StoredFile[] = [];
    for (const name of await readdir(this.escapedDir).catch(() => [] as string[])) {
      if (!name.endsWith(KEY_SUFFIX)) continue;
      const data = path.join(this.escapedDir, name.slice(0, -KEY_SUFFIX.length));
      if (!(await isFile(data))) continue;
      escaped.push({ key: await readFile(path.join(this.escapedDir, name), 'utf8'), path: data });
    }
    return [...plain, ...escaped];
  }
}

/** Every file under dir, relative, with '/' separators. */
async function walk(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const keys: string[] = [];
  for (const e of entries) {
    const rel = prefix === '' ? e.name : `${prefix}/${e.name}`;
    if (e.isDirectory()) keys.push(...(await walk(path.join(dir, e.name), rel)));
    else if (e.isFile()) keys.push(rel);
  }
  return keys;
}
