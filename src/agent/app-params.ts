/**
 * The installed ACAP app's parameters (manifest `paramConfig`) and how they map onto agent settings.
 *
 * AXIS OS keeps an app's parameters under `root.{AppName}.*`; they show in the app's settings in the
 * camera's web UI and can be read with VAPIX param.cgi by an operator-level account (AXParameter
 * documentation). The agent reads them over the same VAPIX client it captures snapshots with, so the
 * package needs no native parameter library. An empty parameter means "not set here": the value from
 * the package's files (or the schema default) stays. That is also why every parameter is a string
 * with an empty default: an int or enum parameter always holds a value and would silently override
 * the site file; the agent's own validation names a bad value and the parameter it came from.
 */
import type { VapixClient } from '../protocol/vapix/client.js';
import { mallocArenaMaxProblem, nodeOptionsProblem, runtimeEnvFile, uvThreadpoolSizeProblem } from './runtime-settings.js';

/** One parameter: its manifest definition and the agent setting it feeds. */
export interface AppParam {
  /** Parameter name under root.{AppName} (letters and digits, as param.cgi names are). */
  name: string;
  /** manifest paramConfig `type` string (see the module comment for why always 'string'). */
  type: string;
  /** manifest paramConfig `default`; '' = take the packaged file's value. */
  default: string;
  /** Dotted agent config key (docs/config.md). */
  key: string;
  /** How the parameter's text becomes the setting's value; convict validates the result. */
  parse: (text: string) => unknown;
}

const text = (v: string): string => v;
const integer = (v: string): unknown => (/^\s*\d+\s*$/.test(v) ? Number(v) : v);
const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** The agent's main settings, in the order the camera UI lists them. */
export const APP_PARAMS: readonly AppParam[] = [
  { name: 'ThingName', type: 'string', default: '', key: 'thingName', parse: text },
  { name: 'IotEndpoint', type: 'string', default: '', key: 'iot.endpoint', parse: text },
  { name: 'IotPort', type: 'string', default: '', key: 'iot.port', parse: integer },
  { name: 'MqttVersion', type: 'string', default: '', key: 'iot.mqttVersion', parse: (v) => ({ '5': 5, '3.1.1': 4 })[v] ?? v },
  { name: 'SnapshotResolution', type: 'string', default: '', key: 'snapshot.resolution', parse: text },
  { name: 'SnapshotCompression', type: 'string', default: '', key: 'snapshot.compression', parse: integer },
  { name: 'AllowedUploadHosts', type: 'string', default: '', key: 'snapshot.allowedUploadHosts', parse: list },
  { name: 'ScheduleCron', type: 'string', default: '', key: 'schedule.cron', parse: text },
  { name: 'LogLevel', type: 'string', default: '', key: 'log.level', parse: text },
  // Written by `cloudcam setup live` (src/field/live-account.ts), not by hand: the camera account live
  // view opens RTSP with, since an ACAP service account cannot (acap-documentation#113).
  { name: 'LiveRtspUsername', type: 'string', default: '', key: 'live.rtspUsername', parse: text },
  { name: 'LiveRtspPassword', type: 'string', default: '', key: 'live.rtspPassword', parse: text },
];

/**
 * Turns `{ "Cloudcam.ThingName": "cam-1", ... }` (listParams output) into a nested config object.
 * Unknown parameters are ignored (a newer package may have added some); empty ones are left out.
 */
export function paramsToConfig(appName: string, params: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of APP_PARAMS) {
    const value = params[`${appName}.${p.name}`];
    if (value === undefined || value.trim() === '') continue;
    setPath(out, p.key, p.parse(value.trim()));
  }
  return out;
}

/**
 * The runtime's own settings (runtime-settings.ts): not agent config but the environment the launcher
 * starts the runtime with, so they reach it through localdata/runtime.env at the next start.
 * Empty = the measured default; NodeOptions `none` = no options at all.
 */
export const RUNTIME_PARAMS = [
  { name: 'NodeOptions', type: 'string', default: '', check: nodeOptionsProblem },
  { name: 'UvThreadpoolSize', type: 'string', default: '', check: uvThreadpoolSizeProblem },
  { name: 'MallocArenaMax', type: 'string', default: '', check: mallocArenaMaxProblem },
] as const;

export interface AppParamsRead {
  /** Agent settings (a config layer). */
  config: Record<string, unknown>;
  /** runtime.env's text for the runtime parameters; undefined = none set (the defaults apply). */
  runtimeEnv: string | undefined;
  /** Runtime parameters refused, each naming the parameter and what is allowed. */
  runtimeProblems: string[];
}

/** Reads root.{appName} over VAPIX; the caller decides what a failure means. */
export async function readAppParams(camera: Pick<VapixClient, 'listParams'>, appName: string): Promise<AppParamsRead> {
  const params = await camera.listParams(appName);
  return { config: paramsToConfig(appName, params), ...runtimeParams(appName, params) };
}

/** The runtime parameters as runtime.env text; a refused one is left out (its default applies) and named. */
export function runtimeParams(appName: string, params: Record<string, string>): Omit<AppParamsRead, 'config'> {
  const set: { nodeOptions?: string; uvThreadpoolSize?: string; mallocArenaMax?: string } = {};
  const keys = { NodeOptions: 'nodeOptions', UvThreadpoolSize: 'uvThreadpoolSize', MallocArenaMax: 'mallocArenaMax' } as const;
  const runtimeProblems: string[] = [];
  for (const p of RUNTIME_PARAMS) {
    const value = params[`${appName}.${p.name}`]?.trim() ?? '';
    if (value === '') continue;
    const problem = p.check(value);
    if (problem) runtimeProblems.push(`parameter ${p.name}: ${problem}; the default stays`);
    else set[keys[p.name]] = value;
  }
  return { runtimeEnv: Object.keys(set).length > 0 ? runtimeEnvFile(set) : undefined, runtimeProblems };
}

/** The manifest's `configuration.paramConfig`. */
export function manifestParamConfig(): { name: string; default: string; type: string }[] {
  return [...APP_PARAMS, ...RUNTIME_PARAMS].map((p) => ({ name: p.name, default: p.default, type: p.type }));
}

function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    const next = cur[part];
    if (typeof next === 'object' && next !== null) cur = next as Record<string, unknown>;
    else cur = cur[part] = {};
  }
  cur[parts[parts.length - 1] ?? key] = value;
}
