/**
 * Updates in the gateway layout (docs/update.md "Gateway layout"). The installed package in
 * /opt/cloudcam is read-only (systemd ProtectSystem=strict); updates live in the agent's own state
 * dir, which the launcher (gateway-launcher.ts) exports as CLOUDCAM_GATEWAY_ROOT:
 *
 *   {root}/releases/{version}/   an unpacked gateway tarball (+ localdata -> ../.., so relative paths work)
 *   {root}/current               one line: the release the launcher runs (`base` or absent: /opt/cloudcam)
 *   {root}/previous              one line: the release a rollback returns to
 *
 * The switch is one rename(2) of `current` (atomic: a start sees the old or the new line, never
 * none); the previous release stays on disk until the next update succeeds it.
 */
import { execFile } from 'node:child_process';
import { access, constants, lstat, mkdir, readdir, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { readFileIfExists, writeFileAtomic } from '../../lib/atomic-file.js';
import type { Installer } from './installer.js';

const run = promisify(execFile);

export const GATEWAY_ROOT_ENV = 'CLOUDCAM_GATEWAY_ROOT';
export const BASE_RELEASE = 'base';
const RELEASE_NAME = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/;

export async function readPointer(root: string, name: 'current' | 'previous'): Promise<string> {
  const line = (await readFileIfExists(path.join(root, name)))?.trim();
  return line && (line === BASE_RELEASE || RELEASE_NAME.test(line)) ? line : BASE_RELEASE;
}

async function writePointer(root: string, name: 'current' | 'previous', release: string): Promise<void> {
  await writeFileAtomic(path.join(root, name), `${release}\n`, 0o644);
}

/** The directory holding the executable in an unpacked tarball: itself, or its single top folder. */
async function packageTop(dir: string, exe: string): Promise<string> {
  if (await isExecutable(path.join(dir, exe))) return dir;
  const entries = await readdir(dir, { withFileTypes: true });
  const only = entries.length === 1 ? entries[0] : undefined;
  if (only?.isDirectory() && (await isExecutable(path.join(dir, only.name, exe)))) return path.join(dir, only.name);
  throw new Error(`the package has no executable "${exe}" at its top (is it the gateway tarball, cloudcam_{version}_linux-{arch}.tar.gz?)`);
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return (await lstat(file)).isFile();
  } catch {
    return false;
  }
}

export function createGatewayInstaller(opts: { root: string; exeName?: string }): Installer {
  const { root } = opts;
  const exe = opts.exeName ?? 'cloudcam';
  const releases = path.join(root, 'releases');
  return {
    kind: 'gateway',
    exitsToSwitch: true,
    previous: () => readPointer(root, 'current'),
    async install(packageFile, version) {
      if (!RELEASE_NAME.test(version)) throw new Error(`version "${version}" cannot name a release folder`);
      await mkdir(releases, { recursive: true, mode: 0o755 });
      const staging = path.join(releases, `.${version}.partial`);
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging, { mode: 0o755 });
      try {
        // The package is verified (signature) before this runs: tar sees only release bytes.
        await run('tar', ['-xzf', packageFile, '-C', staging], { timeout: 300_000 });
        const top = await packageTop(staging, exe);
        const dir = path.join(releases, version);
        const current = await readPointer(root, 'current');
        if (current === version) throw new Error(`release ${version} is the one running`);
        await rm(dir, { recursive: true, force: true });
        await rename(top, dir);
        // Relative paths of the release (cloudcam.defaults.json: localdata/...) reach the shared state.
        await rm(path.join(dir, 'localdata'), { recursive: true, force: true });
        await symlink(path.relative(dir, root) || '.', path.join(dir, 'localdata'));
        await writePointer(root, 'previous', current);
        await writePointer(root, 'current', version);
        await prune(releases, new Set([version, current]));
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    },
    async rollback(previous) {
      await writePointer(root, 'current', previous);
    },
  };
}

/** Removes releases other than the two kept (the new one and the one to roll back to). */
async function prune(releases: string, keep: ReadonlySet<string>): Promise<void> {
  for (const name of await readdir(releases)) {
    if (!keep.has(name) && !name.startsWith('.')) await rm(path.join(releases, name), { recursive: true, force: true });
  }
}
