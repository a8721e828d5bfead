/**
 * Where the packaged agent finds its settings and keeps its data, the same on a camera (ACAP, under
 * /usr/local/packages/{appName}) and on a Linux gateway (the systemd tarball):
 *
 *   {appDir}/{appName}               the executable (Node single-executable application)
 *   {appDir}/cloudcam.defaults.json  settings shipped with the package (replaced on upgrade)
 *   {appDir}/localdata/cloudcam.json the site's settings (optional; kept across upgrades)
 *   {appDir}/localdata/certs/        provisioned CA, device certificate and key (kept across upgrades)
 *   {appDir}/localdata/state/        the request journal (kept across upgrades)
 *   {appDir}/manifest.json           present on a camera only: then the app's parameters are read too
 *   {appDir}/localdata/runtime.env   the runtime settings the launcher applies (from the app parameters)
 *
 * Later sources win: package defaults < site file < app parameters (camera UI / param.cgi) <
 * CLOUDCAM_* environment. Relative paths in any of them start at {appDir}.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadAgentConfig, readConfigFile, type AgentConfig, type ConfigLayer } from './config/index.js';
import { readAppParams } from './app-params.js';
import { VapixClient } from '../protocol/vapix/client.js';
import { requestServiceAccountCredentials, SERVICE_ACCOUNT_VAPIX_URL } from '../protocol/vapix/service-account.js';
import { SERVICE_ACCOUNT_NAME } from './camera-access.js';
import { RUNTIME_FILE } from './runtime-settings.js';

export const DEFAULTS_FILE = 'cloudcam.defaults.json';
export const SITE_FILE = path.join('localdata', 'cloudcam.json');

export interface AppLayout {
  appDir: string;
  /** The app's name: root.{appName} holds its parameters on a camera. */
  appName: string;
  defaultsFile: string;
  siteFile: string;
  /** Installed as an ACAP app (manifest.json beside the executable). */
  onCamera: boolean;
}

/**
 * The package directory is the executable's own: systemd starts an ACAP app with no guaranteed
 * working directory. CLOUDCAM_APP_DIR overrides it (running the bundle with a separate node binary).
 */
export function appLayout(env: NodeJS.ProcessEnv = process.env, execPath = process.execPath): AppLayout {
  const appDir = path.resolve(env['CLOUDCAM_APP_DIR'] ?? path.dirname(execPath));
  const manifest = path.join(appDir, 'manifest.json');
  const onCamera = fs.existsSync(manifest);
  return {
    appDir,
    appName: onCamera ? manifestAppName(manifest) : path.basename(execPath),
    defaultsFile: path.join(appDir, DEFAULTS_FILE),
    siteFile: path.join(appDir, SITE_FILE),
    onCamera,
  };
}

function manifestAppName(file: string): string {
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as { acapPackageConf?: { setup?: { appName?: unknown } } };
  const name = m.acapPackageConf?.setup?.appName;
  if (typeof name !== 'string' || name === '') throw new Error(`${file} has no acapPackageConf.setup.appName: the package is damaged; reinstall it`);
  return name;
}

export interface PackagedConfig {
  config: AgentConfig;
  /** What was read from where, for the log once the logger exists. */
  notes: string[];
}

/** Reads every source in order and validates the result once, so one start reports every problem. */
export async function loadPackagedConfig(layout: AppLayout, env: NodeJS.ProcessEnv = process.env): Promise<PackagedConfig> {
  const notes: string[] = [];
  const layers: ConfigLayer[] = [];
  const site = fs.existsSync(layout.siteFile) ? readConfigFile(layout.siteFile) : undefined;
  if (site) layers.push({ source: `file ${layout.siteFile}`, values: site });
  else notes.push(`no site file ${layout.siteFile}; using the package defaults${layout.onCamera ? ' and the app parameters' : ''}`);

  if (layout.onCamera) {
    const camera = cameraAccount([readConfigFile(layout.defaultsFile), site ?? {}], env);
    const client = await paramsClient(camera, env);
    if (typeof client === 'string') {
      notes.push(`app parameters root.${layout.appName} not read: ${client}`);
    } else {
      try {
        const read = await readAppParams(client, layout.appName);
        layers.push({ source: `parameters root.${layout.appName}`, values: read.config });
        notes.push(`app parameters root.${layout.appName}: ${Object.keys(flatten(read.config)).join(', ') || 'none set'}`);
        notes.push(...read.runtimeProblems, ...applyRuntimeEnv(layout, read.runtimeEnv));
      } catch (err) {
        notes.push(`app parameters root.${layout.appName} not read (${(err as Error).message}); continuing with the files`);
      }
    }
  }
  return { config: loadAgentConfig(layout.defaultsFile, env, layers), notes };
}

/**
 * Keeps localdata/runtime.env equal to the runtime parameters (none set: no file, the launcher's
 * defaults). The launcher reads it when it starts the runtime, so a change applies at the next start.
 */
function applyRuntimeEnv(layout: AppLayout, text: string | undefined): string[] {
  const file = path.join(layout.appDir, 'localdata', RUNTIME_FILE);
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
  if (current === text) return [];
  try {
    if (text === undefined) fs.rmSync(file, { force: true });
    else {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      fs.writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
      fs.renameSync(`${file}.tmp`, file);
    }
  } catch (err) {
    return [`runtime settings not saved to ${file}: ${(err as Error).message}`];
  }
  return [`runtime settings (NodeOptions, UvThreadpoolSize, MallocArenaMax) changed: saved to ${file}; they apply when the app next starts (restart it)`];
}

/**
 * The client the parameters are read with: the camera's service account when the camera gives one
 * (keyless, AXIS OS 11.9+), else the configured account; a string says why there is none.
 */
async function paramsClient(camera: CameraAccount, env: NodeJS.ProcessEnv): Promise<VapixClient | string> {
  if (camera.access !== 'configured') {
    try {
      const cred = await requestServiceAccountCredentials(SERVICE_ACCOUNT_NAME, { busAddress: env['DBUS_SYSTEM_BUS_ADDRESS'] });
      return new VapixClient({ baseUrl: camera.serviceAccountUrl, ...cred, timeoutMs: 5000 });
    } catch (err) {
      if (camera.username === '') return `no service account (${(err as Error).message}) and no camera account is configured (camera.username or CLOUDCAM_CAMERA_USERNAME)`;
    }
  }
  if (camera.username === '') return 'camera.access is configured but no camera account is configured (camera.username or CLOUDCAM_CAMERA_USERNAME)';
  return new VapixClient({ baseUrl: camera.url, username: camera.username, password: camera.password, timeoutMs: 5000 });
}

type CameraAccount = { url: string; username: string; password: string; access: string; serviceAccountUrl: string };

/** The VAPIX account the parameters are read with: the agent's own camera settings, before validation. */
function cameraAccount(sources: object[], env: NodeJS.ProcessEnv): CameraAccount {
  const pick = (key: keyof CameraAccount, envName: string, fallback: string): string => {
    const fromEnv = env[envName];
    if (fromEnv !== undefined) return fromEnv;
    let value = fallback;
    for (const s of sources) {
      const v = (s as { camera?: Record<string, unknown> }).camera?.[key];
      if (typeof v === 'string') value = v;
    }
    return value;
  };
  return {
    url: pick('url', 'CLOUDCAM_CAMERA_URL', 'http://127.0.0.1'),
    username: pick('username', 'CLOUDCAM_CAMERA_USERNAME', ''),
    password: pick('password', 'CLOUDCAM_CAMERA_PASSWORD', ''),
    access: pick('access', 'CLOUDCAM_CAMERA_ACCESS', 'auto'),
    serviceAccountUrl: pick('serviceAccountUrl', 'CLOUDCAM_CAMERA_SERVICE_ACCOUNT_URL', SERVICE_ACCOUNT_VAPIX_URL),
  };
}

function flatten(obj: object, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) Object.assign(out, flatten(v as object, key));
    else out[key] = v;
  }
  return out;
}
