import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reproducibleTarGz, sha256 } from './archive.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cloudcam-archive-'));
  dirs.push(d);
  return d;
}

/** The same files, written in a different order, at different times, with different group bits. */
function stage(order: string[], mtime: Date, groupWritable: boolean): string {
  const dir = tmp();
  for (const name of order) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `content of ${name}\n`);
    fs.chmodSync(file, name === 'cloudcam' ? (groupWritable ? 0o775 : 0o755) : groupWritable ? 0o664 : 0o644);
    fs.utimesSync(file, mtime, mtime);
  }
  return dir;
}

describe('reproducibleTarGz', () => {
  const files = ['manifest.json', 'cloudcam', 'LICENSE', 'lib/a.txt'];

  it('gives byte-identical archives for the same files regardless of order, time and umask', () => {
    const out = tmp();
    reproducibleTarGz(stage(files, new Date('2020-01-01'), false), path.join(out, 'a.eap'), 1_700_000_000);
    reproducibleTarGz(stage([...files].reverse(), new Date('2024-06-01'), true), path.join(out, 'b.eap'), 1_700_000_000);
    expect(sha256(path.join(out, 'a.eap'))).toBe(sha256(path.join(out, 'b.eap')));
  });

  it('stores sorted entries without ./, owned by 0:0, at the fixed time, executable bits kept', () => {
    const out = path.join(tmp(), 'x.eap');
    reproducibleTarGz(stage(files, new Date(), true), out, 1_700_000_000);
    const listing = execFileSync('tar', ['tzvf', out, '--full-time'], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } }).trim().split('\n');
    expect(listing.map((l) => l.split(/\s+/).at(-1))).toEqual(['LICENSE', 'cloudcam', 'lib/', 'lib/a.txt', 'manifest.json']);
    for (const line of listing) {
      expect(line).toContain(' 0/0 ');
      expect(line).toContain('2023-11-14 22:13:20');
    }
    expect(listing.find((l) => l.endsWith(' cloudcam'))).toMatch(/^-rwxr-xr-x/);
    expect(listing.find((l) => l.endsWith(' LICENSE'))).toMatch(/^-rw-r--r--/);
    // gzip -n: no file name and no time in the gzip header (bytes 4..7 are MTIME).
    expect(fs.readFileSync(out).subarray(4, 8)).toEqual(Buffer.alloc(4));
  });

  it('can put every entry under one top directory (the gateway tarball)', () => {
    const out = path.join(tmp(), 'x.tar.gz');
    reproducibleTarGz(stage(['cloudcam'], new Date(), false), out, 0, 'cloudcam-1.0.0');
    expect(execFileSync('tar', ['tzf', out], { encoding: 'utf8' }).trim()).toBe('cloudcam-1.0.0/cloudcam');
  });
});
