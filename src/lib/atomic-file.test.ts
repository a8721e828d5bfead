import { mkdtemp, readFile, readdir, stat, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { symlink, writeFile } from 'node:fs/promises';
import type * as Crypto from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { writeFileAtomic } from './atomic-file.js';

// A predictable temp name, so a test can plant something there first (as a local attacker would try).
vi.mock('node:crypto', async (importOriginal) => ({ ...(await importOriginal<typeof Crypto>()), randomBytes: (n: number) => Buffer.alloc(n, 0xab) }));
const TEMP_TOKEN = 'ab'.repeat(4);

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-atomic-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces the content, applies the mode and leaves no temp file', async () => {
    const file = path.join(dir, 'state.json');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, 'two', 0o640);
    expect(await readFile(file, 'utf8')).toBe('two');
    expect((await stat(file)).mode & 0o777).toBe(0o640 & ~process.umask());
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('fails without touching the old file when the temp file cannot be written', async () => {
    const file = path.join(dir, 'state.json');
    await writeFileAtomic(file, 'old');
    await expect(writeFileAtomic(path.join(dir, 'missing', 'state.json'), 'new')).rejects.toThrow(/ENOENT/);
    expect(await readFile(file, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('never writes through a file or symlink planted at the temp name (exclusive create)', async () => {
    const file = path.join(dir, 'state.json');
    const victim = path.join(dir, 'victim.txt');
    await writeFile(victim, 'untouched');
    await writeFileAtomic(file, 'old');
    await symlink(victim, path.join(dir, `.state.json.${TEMP_TOKEN}.tmp`));
    await expect(writeFileAtomic(file, 'secret')).rejects.toThrow(/EEXIST/);
    expect(await readFile(victim, 'utf8')).toBe('untouched');
    expect(await readFile(file, 'utf8')).toBe('old');
  });

  it('creates the temp file 0600 by default', async () => {
    const file = path.join(dir, 'key.pem');
    await writeFileAtomic(file, 'k');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});
