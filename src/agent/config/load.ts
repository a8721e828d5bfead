import fs from 'node:fs';
import path from 'node:path';
import convict from 'convict';
import type { AgentConfig, ConfigSchema, RawConfig } from './agent-config.js';
import { crossKeyProblems } from './checks.js';
import { ConfigError, explainConvictErrors } from './explain.js';
import { envNameOf, lookup, schemaLeaves, withEnvNames } from './keys.js';
import { claimModeSchema, configSchema } from './schema.js';
// Registers the custom formats with convict; a schema naming them can only be loaded after that.
import './formats.js';

const PATH_KEYS = ['iot.caPath', 'iot.certPath', 'iot.keyPath', 'stateDir', 'provisioning.claimCertPath', 'provisioning.claimKeyPath', 'update.releaseKeysDir', 'update.extraReleaseKeyPath', 'live.caPath'] as const;
/** Where a provisioned identity goes when iot.certPath/keyPath are not set (relative to stateDir). */
export const IDENTITY_DIR = 'identity';

/** Settings laid over the config file (e.g. a site file, or an installed app's parameters); relative paths in it start at the file's directory. */
export interface ConfigLayer {
  /** Where the values came from, for error messages: "parameters root.Cloudcam". */
  source: string;
  values: object;
}

/**
 * Loads the JSON file (if any), then the layers, applies CLOUDCAM_* environment overrides, resolves paths and
 * validates everything at once, so one run reports every problem.
 */
export function loadAgentConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  layers: readonly ConfigLayer[] = [],
): AgentConfig {
  const source = [file ? `file ${file}` : undefined, ...layers.map((l) => l.source), 'environment'].filter(Boolean).join(' + ');
  const baseDir = file ? path.dirname(path.resolve(file)) : process.cwd();
  const fileContent = file ? readConfigFile(file) : undefined;
  const make = (schema: ConfigSchema<RawConfig>): convict.Config<RawConfig> => {
    // args: [] keeps convict from reading process.argv (the CLI owns the command line).
    const c = convict<RawConfig>(withEnvNames(schema), { env, args: [] });
    if (fileContent !== undefined) c.load(fileContent);
    // Later layers win over the file; the environment still wins over everything (convict applies it last).
    for (const layer of layers) c.load(layer.values);
    return c;
  };
  let cfg = make(configSchema);
  const claimMode = cfg.get('provisioning.claimCertPath') !== '';
  if (claimMode) cfg = make(claimModeSchema());

  const leaves = new Map(schemaLeaves().map((l) => [l.key, l]));
  for (const key of PATH_KEYS) {
    const value = lookup(cfg.getProperties(), key);
    if (typeof value !== 'string' || value === '') continue;
    // Environment values are typed in a shell, so they are relative to where the shell is.
    const from = env[envNameOf(key)] !== undefined ? process.cwd() : baseDir;
    cfg.set(key, path.resolve(from, value));
  }

  const problems: string[] = [];
  try {
    cfg.validate({ allowed: 'strict' });
  } catch (err) {
    problems.push(...explainConvictErrors(err instanceof Error ? err.message : String(err), cfg.getProperties(), leaves, file, env));
  }
  const raw = cfg.getProperties();
  if (problems.length === 0) problems.push(...crossKeyProblems(raw, claimMode));
  if (problems.length > 0) throw new ConfigError(problems, source);
  if (claimMode) {
    raw.iot.certPath ||= path.join(raw.stateDir, IDENTITY_DIR, 'device.crt');
    raw.iot.keyPath ||= path.join(raw.stateDir, IDENTITY_DIR, 'device.key');
  }
  return toAgentConfig(raw);
}

/** Reads one JSON config file; every failure is a ConfigError that says what to do. */
export function readConfigFile(file: string): object {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this user' : `cannot be read (${code ?? String(err)})`;
    throw new ConfigError([`config file ${file} ${why}: create it (see docs/config.md) or pass the right path`], `file ${file}`);
  }
  let parsed: unknown;
  try {
    parsed = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`config file ${file} is not valid JSON (${(err as Error).message}): fix the syntax`], `file ${file}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError([`config file ${file} must hold one JSON object, e.g. {"thingName": "cam-1", "iot": {...}}`], `file ${file}`);
  }
  return parsed;
}

function toAgentConfig(raw: RawConfig): AgentConfig {
  const { timezone, cron } = raw.schedule;
  return {
    ...raw,
    thingName: raw.thingName ?? '',
    iot: {
      ...raw.iot,
      endpoint: raw.iot.endpoint ?? '',
      caPath: raw.iot.caPath ?? '',
      certPath: raw.iot.certPath ?? '',
      keyPath: raw.iot.keyPath ?? '',
      reconnect: { ...raw.iot.reconnect },
    },
    camera: { ...raw.camera },
    snapshot: {
      ...raw.snapshot,
      allowedUploadHosts: [...raw.snapshot.allowedUploadHosts],
      insecureHttpUploadHosts: [...raw.snapshot.insecureHttpUploadHosts],
    },
    schedule: timezone === '' ? { cron } : { cron, timezone },
    log: { ...raw.log, syslog: { ...raw.log.syslog } },
    localApi: { ...raw.localApi, allowedPeerUids: [...raw.localApi.allowedPeerUids] },
    provisioning: { ...raw.provisioning },
    update: { ...raw.update, allowedDownloadHosts: [...raw.update.allowedDownloadHosts], insecureHttpDownloadHosts: [...raw.update.insecureHttpDownloadHosts] },
  };
}

