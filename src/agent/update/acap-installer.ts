/**
 * Updates on an Axis camera: the app hands the verified .eap to the camera through VAPIX
 * upload.cgi on the loopback, with its own VAPIX access (the D-Bus service account on AXIS OS
 * 11.9+). The camera replaces the installed app and restarts it: this process ends there.
 *
 * A rollback uploads the previous package the same way. The camera keeps no copy of it, so the
 * agent keeps every package it installs under {updateDir}/packages/ (localdata survives upgrades):
 * the package of the running version is there if that version came by an update. A version
 * installed by hand (cloudcam install) has none, and then a failed update cannot be undone here.
 */
import { copyFile, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { VapixClient } from '../../protocol/vapix/client.js';
import { uploadApp } from '../../protocol/vapix/applications.js';
import type { Installer } from './installer.js';

export function keptPackage(updateDir: string, version: string): string {
  return path.join(updateDir, 'packages', `cloudcam_${version}.eap`);
}

export function createAcapInstaller(opts: { camera: VapixClient; updateDir: string; uploadTimeoutMs?: number }): Installer {
  const packages = path.join(opts.updateDir, 'packages');
  const upload = async (file: string): Promise<void> => {
    await uploadApp(opts.camera, await readFile(file), path.basename(file), { timeoutMs: opts.uploadTimeoutMs ?? 300_000 });
  };
  return {
    kind: 'acap',
    exitsToSwitch: false,
    async previous(runningVersion) {
      const kept = keptPackage(opts.updateDir, runningVersion);
      return (await stat(kept).catch(() => undefined)) ? kept : '';
    },
    async install(packageFile, version, previous) {
      await mkdir(packages, { recursive: true, mode: 0o700 });
      const kept = keptPackage(opts.updateDir, version);
      // Two packages at most: the one installed now and the one a rollback returns to.
      await pruneKeptPackages(opts.updateDir, previous ? [previous] : []);
      await copyFile(packageFile, kept);
      await upload(kept);
    },
    async rollback(previous) {
      if (previous === '') throw new Error('no previous package is kept on this camera (the running version was installed by hand, not by an update): reinstall it with cloudcam install');
      await upload(previous);
    },
  };
}

/** Keeps only the named packages (the installed one and the one before it). */
export async function pruneKeptPackages(updateDir: string, keep: readonly string[]): Promise<void> {
  const dir = path.join(updateDir, 'packages');
  const names = new Set(keep.map((f) => path.basename(f)));
  for (const f of await readdir(dir).catch(() => [] as string[])) if (!names.has(f)) await rm(path.join(dir, f), { force: true });
}
