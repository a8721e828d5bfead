/**
 * `cloudcam install`: picks the .eap built for the camera's architecture, uploads it over VAPIX,
 * starts it and confirms that it runs. The same version already running is left alone unless forced.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import semver from 'semver';
import { EapError, readEapManifest, type EapManifest } from '../protocol/eap.js';
import { controlApp, listApps, uploadApp, AxisAppError, type InstalledApp } from '../protocol/vapix/applications.js';
import type { VapixClient } from '../protocol/vapix/client.js';

export interface PackageFile {
  file: string;
  manifest: EapManifest;
  bytes: Buffer;
}

export interface InstallResult {
  action: 'unchanged' | 'started' | 'installed';
  app: InstalledApp;
  package: PackageFile;
  architecture: string;
}

/** Reads the given .eap files, or every .eap in dir; unreadable ones are named in the error if none fits. */
export async function readPackages(files: string[], dir: string | undefined): Promise<{ packages: PackageFile[]; problems: string[] }> {
  let names = files;
  if (names.length === 0) {
    const d = dir ?? '.';
    let entries: string[];
    try {
      entries = await readdir(d);
    } catch (err) {
      throw new Error(`cannot list ${d} for .eap packages (${(err as Error).message}): give the package file or --dir`, { cause: err });
    }
    names = entries.filter((n) => n.endsWith('.eap')).sort().map((n) => path.join(d, n));
    if (names.length === 0) throw new Error(`no .eap package in ${path.resolve(d)}: build one (make package) or give its path`);
  }
  const packages: PackageFile[] = [];
  const problems: string[] = [];
  for (const file of names) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    try {
      packages.push({ file, bytes, manifest: readEapManifest(bytes, file) });
    } catch (err) {
      if (!(err instanceof EapError)) throw err;
      problems.push(err.message);
    }
  }
  return { packages, problems };
}

/**
 * Newest first by semantic version (1.0.0 over 0.9.0, 0.10.0 over 0.9.0: numbers, not letters), so
 * a folder of old and new builds installs the newest. A version that is not semver (Axis allows
 * any dotted numbers) is coerced ("1.2" = 1.2.0); one that cannot be read sorts last.
 */
function newestFirst(a: PackageFile, b: PackageFile): number {
  const va = semver.valid(a.manifest.version) ?? semver.coerce(a.manifest.version)?.version;
  const vb = semver.valid(b.manifest.version) ?? semver.coerce(b.manifest.version)?.version;
  if (va === undefined || vb === undefined) return (va === undefined ? 1 : 0) - (vb === undefined ? 1 : 0);
  return semver.rcompare(va, vb);
}

/** The newest package for this architecture: an exact build first, else an architecture-independent one. */
export function pickPackage(packages: PackageFile[], architecture: string, problems: string[] = []): PackageFile {
  const newest = (arch: string): PackageFile | undefined => packages.filter((p) => p.manifest.architecture === arch).sort(newestFirst)[0];
  const pick = newest(architecture) ?? newest('all');
  if (pick) return pick;
  const seen = packages.map((p) => `${path.basename(p.file)} (${p.manifest.architecture})`);
  throw new Error(
    `no package for this camera's architecture ${architecture}` +
      (seen.length ? `: found only ${seen.join(', ')}` : '') +
      (problems.length ? `; unusable: ${problems.join('; ')}` : '') +
      `. Build or download the ${architecture} .eap`,
  );
}

export async function installPackage(
  camera: VapixClient,
  packages: PackageFile[],
  opts: { force: boolean; problems?: string[]; onProgress?: (sent: number, total: number) => void; say?: (line: string) => void },
): Promise<InstallResult> {
  const say = opts.say ?? (() => undefined);
  const info = await camera.basicDeviceInfo();
  const architecture = info['Architecture'] ?? '';
  if (!architecture) throw new Error(`camera at ${camera.origin} does not report its architecture (basicdeviceinfo.cgi): AXIS OS 8.40 or later is needed`);
  const pkg = pickPackage(packages, architecture, opts.problems);
  const { appName, version } = pkg.manifest;
  say(`camera ${info['ProdShortName'] ?? ''} ${info['SerialNumber'] ?? ''}: ${architecture}, AXIS OS ${info['Version'] ?? '?'}; package ${path.basename(pkg.file)} (${appName} ${version})`);

  const before = (await listApps(camera)).find((a) => a.name === appName);
  if (before && before.version === version && !opts.force) {
    if (before.status === 'Running') {
      say(`${appName} ${version} is already installed and running: nothing to do (--force reinstalls)`);
      return { action: 'unchanged', app: before, package: pkg, architecture };
    }
    say(`${appName} ${version} is installed but ${before.status.toLowerCase() || 'not running'}: starting it`);
    await start(camera, appName);
    return { action: 'started', app: await confirmRunning(camera, appName, version), package: pkg, architecture };
  }
  say(before ? `replacing ${appName} ${before.version} with ${version}` : `installing ${appName} ${version}`);
  await uploadApp(camera, pkg.bytes, path.basename(pkg.file), opts.onProgress ? { onProgress: opts.onProgress } : {});
  await start(camera, appName);
  return { action: 'installed', app: await confirmRunning(camera, appName, version), package: pkg, architecture };
}

async function start(camera: VapixClient, appName: string): Promise<void> {
  try {
    await controlApp(camera, 'start', appName);
  } catch (err) {
    // Error 6: it was running already (an upgrade keeps a running app running).
    if (!(err instanceof AxisAppError && err.code === '6')) throw err;
  }
}

async function confirmRunning(camera: VapixClient, appName: string, version: string): Promise<InstalledApp> {
  const app = (await listApps(camera)).find((a) => a.name === appName);
  if (!app) throw new Error(`the camera accepted ${appName} but list.cgi does not show it: check the camera's system log (System > Logs)`);
  if (app.version !== version) throw new Error(`list.cgi shows ${appName} ${app.version}, not the uploaded ${version}: upload again with --force`);
  if (app.status !== 'Running') {
    throw new Error(`${appName} ${version} is installed but ${app.status}: it stopped after start; read the app log on the camera (Apps > ${appName} > App log)`);
  }
  return app;
}
