/**
 * Byte-reproducible archives: the same staged files give the same .eap / .tar.gz. GNU tar with
 * sorted entries, one fixed mtime, numeric owner 0:0 and normalised modes; gzip -n (no name or time
 * in the header). The mtime is SOURCE_DATE_EPOCH when set (reproducible-builds.org convention),
 * else the last commit's time.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createHash } from 'node:crypto';

export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = env['SOURCE_DATE_EPOCH'];
  if (fromEnv !== undefined) {
    if (!/^\d+$/.test(fromEnv)) throw new Error(`SOURCE_DATE_EPOCH must be seconds since 1970, got "${fromEnv}"`);
    return Number(fromEnv);
  }
  try {
    return Number(execFileSync('git', ['log', '-1', '--format=%ct'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) || 0;
  } catch {
    return 0;
  }
}

/** Writes dir's contents (not dir itself) as a gzip'd tar at outFile. */
export function reproducibleTarGz(dir: string, outFile: string, mtime: number, topDir?: string): void {
  const tarArgs = [
    '--sort=name',
    `--mtime=@${mtime}`,
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mode=u+rw,go=rX,a-s',
    '--format=gnu',
    '-cf',
    '-',
    '-C',
    dir,
    // Entries named like acap-build's (manifest.json, not ./manifest.json), optionally under topDir/.
    ...(topDir ? ['--transform', `s,^,${topDir}/,`] : []),
    ...fs.readdirSync(dir).sort(),
  ];
  const tar = execFileSync('tar', tarArgs, { maxBuffer: 512 * 1024 * 1024 });
  fs.writeFileSync(outFile, execFileSync('gzip', ['-n', '-9'], { input: tar, maxBuffer: 512 * 1024 * 1024 }));
}

export function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Total size of the files under dir (what the package takes once unpacked). */
export function treeSize(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += fs.statSync(`${e.parentPath}/${e.name}`).size;
  }
  return total;
}
