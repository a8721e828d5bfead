import fs from 'node:fs';
import path from 'node:path';
import convict from 'convict';
import { FORMAT_DOCS, show } from './config-formats.js';
import { FACILITIES, type Facility } from './syslog.js';

export { FORMAT_DOCS };

/** The agent's settings after validation; every path is absolute. */
export interface AgentConfig {
  /** Also the MQTT client id; AWS thing-name rules [a-zA-Z0-9:_-]{1,128}. */
  thingName: string;
  iot: {
    endpoint: string;
    /** 8883, or 443 with ALPN x-amzn-mqtt-ca. */
    port: number;
    mqttVersion: 5 | 4;
    keepaliveSeconds: number;
    caPath: string;
    certPath: string;
    keyPath: string;
    reconnect: { minMs: number; maxMs: number };
    connectTimeoutMs: number;
  };
  camera: { url: string; username: string; password: string; timeoutMs: number };
  snapshot: {
    /** WxH */
    resolution: string;
    /** 0..100 */
    compression: number;
    maxBytes: number;
    captureTimeoutMs: number;
    uploadTimeoutMs: number;
    /** Exact host or host:port; '*.suffix' matches any subdomain of suffix. */
    allowedUploadHosts: string[];
    /** Dev only: exact hosts (or host:port) allowed over plain http. */
    insecureHttpUploadHosts: string[];
  };
  /** cron '' = off */
  schedule: { cron: string; timezone?: string };
  stateDir: string;
  log: { level: LogLevel; format: LogFormat; syslog: { url: string; facility: Facility; appName: string } };
  shadowName: string;
  /** Loopback HTTP port of the agent's local API (status for `cloudcam setup check`); 0: any free port. */
  localApi: { port: number };
  /**
   * Fleet provisioning by claim; off when claimCertPath is ''. When on, thingName may be '' (the thing
   * name then comes from RegisterThing) and iot.certPath/keyPath are where the provisioned identity goes.
   */
  provisioning: { claimCertPath: string; claimKeyPath: string; templateName: string; keyType: 'ec-p256' | 'rsa-2048' };
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
export type LogFormat = 'syslog-stdout' | 'json' | 'pretty';

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[], source: string) {
    super(`invalid cloudcam agent configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** The shape convict holds before the paths are resolved and '' turns into "not set". */
type RawConfig = Omit<AgentConfig, 'thingName' | 'iot' | 'schedule'> & {
  thingName: string | null;
  iot: Omit<AgentConfig['iot'], 'endpoint' | 'caPath' | 'certPath' | 'keyPath'> & {
    endpoint: string | null;
    caPath: string | null;
    certPath: string | null;
    keyPath: string | null;
  };
  schedule: { cron: string; timezone: string };
};

// ---------------------------------------------------------------------------------------------

/** One schema documents, validates and maps to env vars every key; scripts/gen-config-docs.mjs renders it. */
/** The manifest's reverseProxy target points here; a site that changes localApi.port loses /local/cloudcam/api/. */
export const LOCAL_API_DEFAULT_PORT = 2001;

export const configSchema: convict.Schema<RawConfig> = {
  thingName: {
    doc: 'AWS IoT thing name of this camera; also its MQTT client id, so each camera needs its own.',
    format: 'cloudcam-thing-name',
    default: null,
    env: 'CLOUDCAM_THING_NAME',
  },
  iot: {
    endpoint: {
      doc: 'AWS IoT data endpoint host (aws iot describe-endpoint --endpoint-type iot:Data-ATS), or the devcloud broker host.',
      format: 'cloudcam-endpoint',
      default: null,
      env: 'CLOUDCAM_IOT_ENDPOINT',
    },
    port: {
      doc: 'MQTT over TLS port: 8883, or 443 (then the agent sends ALPN x-amzn-mqtt-ca, for networks that only let HTTPS out).',
      format: 'cloudcam-port',
      default: 8883,
      env: 'CLOUDCAM_IOT_PORT',
    },
    mqttVersion: {
      doc: 'MQTT protocol version: "5" (reason codes, session expiry) or "3.1.1".',
      format: 'cloudcam-mqtt-version',
      default: 5,
      env: 'CLOUDCAM_IOT_MQTT_VERSION',
    },
    keepaliveSeconds: {
      doc: 'MQTT keep-alive; the broker drops the connection (and publishes the last will) after 1.5x this without traffic.',
      format: 'cloudcam-keepalive',
      default: 60,
      env: 'CLOUDCAM_IOT_KEEPALIVE_SECONDS',
    },
    caPath: {
      doc: 'CA certificate (PEM) that signed the broker certificate: AmazonRootCA1.pem for AWS. Relative paths start at the config file.',
      format: 'cloudcam-ca-file',
      default: null,
      env: 'CLOUDCAM_IOT_CA_PATH',
    },
    certPath: {
      doc: 'Device certificate (PEM) registered in AWS IoT and attached to this thing. Relative paths start at the config file.',
      format: 'cloudcam-cert-file',
      default: null,
      env: 'CLOUDCAM_IOT_CERT_PATH',
    },
    keyPath: {
      doc: 'Private key (PEM) of the device certificate. Relative paths start at the config file.',
      format: 'cloudcam-key-file',
      default: null,
      env: 'CLOUDCAM_IOT_KEY_PATH',
    },
    reconnect: {
      minMs: {
        doc: 'First reconnect window; each failed attempt doubles it (full jitter: the delay is random within the window).',
        format: 'cloudcam-ms',
        default: 1000,
        env: 'CLOUDCAM_IOT_RECONNECT_MIN_MS',
      },
      maxMs: {
        doc: 'Cap on the reconnect window; the agent never gives up, it retries at most this far apart.',
        format: 'cloudcam-ms',
        default: 120_000,
        env: 'CLOUDCAM_IOT_RECONNECT_MAX_MS',
      },
    },
    connectTimeoutMs: {
      doc: 'How long one attempt (TCP, TLS and CONNACK) may take before it counts as failed.',
      format: 'cloudcam-ms',
      default: 20_000,
      env: 'CLOUDCAM_IOT_CONNECT_TIMEOUT_MS',
    },
  },
  camera: {
    url: {
      doc: 'VAPIX base URL; http://127.0.0.1 is the camera the agent runs on.',
      format: 'cloudcam-camera-url',
      default: 'http://127.0.0.1',
      env: 'CLOUDCAM_CAMERA_URL',
    },
    username: {
      doc: 'VAPIX user for digest authentication (an account with viewer rights suffices for snapshots).',
      format: String,
      default: '',
      env: 'CLOUDCAM_CAMERA_USERNAME',
    },
    password: {
      doc: 'Password of the VAPIX user.',
      format: String,
      default: '',
      sensitive: true,
      env: 'CLOUDCAM_CAMERA_PASSWORD',
    },
    timeoutMs: {
      doc: 'Timeout of one VAPIX request.',
      format: 'cloudcam-ms',
      default: 10_000,
      env: 'CLOUDCAM_CAMERA_TIMEOUT_MS',
    },
  },
  snapshot: {
    resolution: {
      doc: 'Default JPEG resolution (jpg/image.cgi resolution=); a request may override it.',
      format: 'cloudcam-resolution',
      default: '1920x1080',
      env: 'CLOUDCAM_SNAPSHOT_RESOLUTION',
    },
    compression: {
      doc: 'Default JPEG compression 0-100 (higher = smaller file); a request may override it.',
      format: 'cloudcam-percent',
      default: 30,
      env: 'CLOUDCAM_SNAPSHOT_COMPRESSION',
    },
    maxBytes: {
      doc: 'Largest JPEG the agent uploads; a request may only lower it.',
      format: 'cloudcam-bytes',
      default: 10 * 1024 * 1024,
      env: 'CLOUDCAM_SNAPSHOT_MAX_BYTES',
    },
    captureTimeoutMs: {
      doc: 'Timeout of one JPEG capture.',
      format: 'cloudcam-ms',
      default: 15_000,
      env: 'CLOUDCAM_SNAPSHOT_CAPTURE_TIMEOUT_MS',
    },
    uploadTimeoutMs: {
      doc: 'Timeout of one upload to the presigned POST URL.',
      format: 'cloudcam-ms',
      default: 60_000,
      env: 'CLOUDCAM_SNAPSHOT_UPLOAD_TIMEOUT_MS',
    },
    allowedUploadHosts: {
      doc: 'Hosts a presigned upload URL may point at (https only): exact host, host:port, or *.domain for any subdomain.',
      format: 'cloudcam-upload-hosts',
      default: ['*.amazonaws.com'],
      env: 'CLOUDCAM_SNAPSHOT_ALLOWED_UPLOAD_HOSTS',
    },
    insecureHttpUploadHosts: {
      doc: 'Development only: exact hosts (host or host:port) that may receive uploads over plain http, e.g. devcloud S3.',
      format: 'cloudcam-insecure-hosts',
      default: [],
      env: 'CLOUDCAM_SNAPSHOT_INSECURE_HTTP_UPLOAD_HOSTS',
    },
  },
  schedule: {
    cron: {
      doc: 'When the camera asks for a snapshot by itself (node-cron syntax, 5 or 6 fields); "" turns the schedule off.',
      format: 'cloudcam-cron',
      default: '',
      env: 'CLOUDCAM_SCHEDULE_CRON',
    },
    timezone: {
      doc: 'Time zone of the cron schedule (IANA name); "" uses the system zone.',
      format: 'cloudcam-timezone',
      default: '',
      env: 'CLOUDCAM_SCHEDULE_TIMEZONE',
    },
  },
  stateDir: {
    doc: 'Writable directory for persistent agent state (handled request ids). Relative paths start at the config file.',
    format: 'cloudcam-dir',
    default: 'localdata',
    env: 'CLOUDCAM_STATE_DIR',
  },
  log: {
    level: {
      doc: 'Lowest severity that is logged.',
      format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'],
      default: 'info',
      env: 'CLOUDCAM_LOG_LEVEL',
    },
    format: {
      doc: 'syslog-stdout: one line per event with a `<N>` severity prefix (the camera system log keeps it); json: pino JSON; pretty: for people.',
      format: ['syslog-stdout', 'json', 'pretty'],
      default: 'syslog-stdout',
      env: 'CLOUDCAM_LOG_FORMAT',
    },
    syslog: {
      url: {
        doc: 'Also send every line as RFC 5424 syslog to a collector: udp://HOST:PORT or tcp://HOST:PORT (octet-counted framing); "" = off. Lines are dropped, and counted, while the collector is unreachable; the agent never waits for it.',
        format: 'cloudcam-syslog-url',
        default: '',
        env: 'CLOUDCAM_LOG_SYSLOG_URL',
      },
      facility: {
        doc: 'Syslog facility of the lines sent to the collector.',
        format: Object.keys(FACILITIES),
        default: 'daemon',
        env: 'CLOUDCAM_LOG_SYSLOG_FACILITY',
      },
      appName: {
        doc: 'APP-NAME field of the RFC 5424 lines.',
        format: 'cloudcam-syslog-app-name',
        default: 'cloudcam',
        env: 'CLOUDCAM_LOG_SYSLOG_APP_NAME',
      },
    },
  },
  shadowName: {
    doc: 'Name of the named device shadow that carries snapshot requests.',
    format: 'cloudcam-shadow-name',
    default: 'cloudcam',
    env: 'CLOUDCAM_SHADOW_NAME',
  },
  localApi: {
    port: {
      doc: 'Loopback port of the local API (GET /status, POST /certs) that the camera reverse-proxies, admin only, as /local/cloudcam/api/ (manifest reverseProxy target); 0 picks a free port.',
      format: 'port',
      default: LOCAL_API_DEFAULT_PORT,
      env: 'CLOUDCAM_LOCAL_API_PORT',
    },
  },
  provisioning: {
    claimCertPath: {
      doc: 'Fleet provisioning by claim: the claim certificate (PEM) shipped in the bundle. When set, a camera without an identity of its own makes a key and CSR, enrols (CreateCertificateFromCsr, RegisterThing) and stores its identity at iot.certPath/iot.keyPath (default: STATE_DIR/identity/); thingName and those files may then be absent. "" = off.',
      format: 'cloudcam-optional-path',
      default: '',
      env: 'CLOUDCAM_PROVISIONING_CLAIM_CERT_PATH',
    },
    claimKeyPath: {
      doc: 'Private key (PEM) of the claim certificate. Relative paths start at the config file.',
      format: 'cloudcam-optional-path',
      default: '',
      env: 'CLOUDCAM_PROVISIONING_CLAIM_KEY_PATH',
    },
    templateName: {
      doc: 'Fleet provisioning template name (the stack output ProvisioningTemplateName; devcloud writes its own).',
      format: 'cloudcam-optional-template-name',
      default: '',
      env: 'CLOUDCAM_PROVISIONING_TEMPLATE_NAME',
    },
    keyType: {
      doc: 'Key made on the camera for its own certificate.',
      format: ['ec-p256', 'rsa-2048'],
      default: 'ec-p256',
      env: 'CLOUDCAM_PROVISIONING_KEY_TYPE',
    },
  },
};

/** Fleet provisioning on: thingName, iot.certPath and iot.keyPath may be absent (they are made). */
function claimModeSchema(): convict.Schema<RawConfig> {
  const leaf = (node: unknown, format: string): convict.SchemaObj => ({ ...(node as convict.SchemaObj), format });
  const iot = configSchema.iot as Record<string, unknown>;
  return {
    ...configSchema,
    thingName: leaf(configSchema.thingName, 'cloudcam-optional-thing-name'),
    iot: { ...iot, certPath: leaf(iot['certPath'], 'cloudcam-optional-path'), keyPath: leaf(iot['keyPath'], 'cloudcam-optional-path') },
  } as convict.Schema<RawConfig>;
}

// ---------------------------------------------------------------------------------------------

/** A leaf of the schema, with its dotted key. */
export interface SchemaLeaf {
  key: string;
  doc: string;
  format: unknown;
  default: unknown;
  env?: string;
  sensitive: boolean;
}

function isLeaf(node: object): node is convict.SchemaObj {
  return 'default' in node;
}

/** Every leaf in schema order. */
export function schemaLeaves(schema: object = configSchema, prefix = ''): SchemaLeaf[] {
  const out: SchemaLeaf[] = [];
  for (const [name, node] of Object.entries(schema) as [string, object][]) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (isLeaf(node)) {
      out.push({
        key,
        doc: typeof node.doc === 'string' ? node.doc : '',
        format: node.format,
        default: node.default,
        ...(typeof node.env === 'string' ? { env: node.env } : {}),
        sensitive: node.sensitive === true,
      });
    } else {
      out.push(...schemaLeaves(node, key));
    }
  }
  return out;
}

const PATH_KEYS = ['iot.caPath', 'iot.certPath', 'iot.keyPath', 'stateDir', 'provisioning.claimCertPath', 'provisioning.claimKeyPath'] as const;
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
  const make = (schema: convict.Schema<RawConfig>): convict.Config<RawConfig> => {
    // args: [] keeps convict from reading process.argv (the CLI owns the command line).
    const c = convict<RawConfig>(schema, { env, args: [] });
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
    const envName = leaves.get(key)?.env;
    // Environment values are typed in a shell, so they are relative to where the shell is.
    const from = envName && env[envName] !== undefined ? process.cwd() : baseDir;
    cfg.set(key, path.resolve(from, value));
  }

  const problems: string[] = [];
  try {
    cfg.validate({ allowed: 'strict' });
  } catch (err) {
    problems.push(...explainConvictErrors(err instanceof Error ? err.message : String(err), cfg.getProperties(), leaves, file, env));
  }
  const raw = cfg.getProperties();
  if (problems.length === 0 && raw.iot.reconnect.maxMs < raw.iot.reconnect.minMs) {
    problems.push(
      `iot.reconnect.maxMs (${raw.iot.reconnect.maxMs}) is below iot.reconnect.minMs (${raw.iot.reconnect.minMs}): raise maxMs or lower minMs`,
    );
  }
  if (problems.length === 0 && claimMode) problems.push(...claimProblems(raw));
  if (problems.length === 0 && raw.iot.keyPath) problems.push(...privateKeyProblems('iot.keyPath', raw.iot.keyPath));
  if (problems.length === 0 && claimMode) problems.push(...privateKeyProblems('provisioning.claimKeyPath', raw.provisioning.claimKeyPath));
  if (problems.length > 0) throw new ConfigError(problems, source);
  if (claimMode) {
    raw.iot.certPath ||= path.join(raw.stateDir, IDENTITY_DIR, 'device.crt');
    raw.iot.keyPath ||= path.join(raw.stateDir, IDENTITY_DIR, 'device.key');
  }
  return toAgentConfig(raw);
}

/**
 * A private key must be readable by its owner only: a key that group or others can read can be
 * copied by any process on the camera, and with it anyone can be this thing (the device key) or enrol
 * as any camera of the fleet (the claim key). Both are checked here, the same way. Refused with the exact
 * command that fixes it (AWS IoT Device Client refuses the same way; its users asked for the fix to
 * be printed, not just the rule).
 */
export function privateKeyProblems(key: 'iot.keyPath' | 'provisioning.claimKeyPath', keyPath: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(keyPath);
  } catch {
    return []; // "does not exist / not readable" is already reported by the cloudcam-key-file format
  }
  if (!st.isFile()) return [`${key} ${keyPath} is not a regular file: point it at the PEM private key`];
  const loose = st.mode & 0o077;
  if (loose === 0) return [];
  const who = [loose & 0o070 ? 'group' : '', loose & 0o007 ? 'others' : ''].filter(Boolean).join(' and ');
  return [
    `${key} ${keyPath} is accessible by ${who} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}): ` +
      `anyone who can read it can ${key === 'iot.keyPath' ? 'impersonate this camera' : "enrol as any camera of the fleet with the claim certificate"}. Fix: chmod 600 ${shellQuote(keyPath)}`,
  ];
}

/** Quotes a path for a copy-and-paste shell command. */
function shellQuote(p: string): string {
  return /^[A-Za-z0-9_./@:+-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

/** Provisioning by claim needs the claim key and a template besides the claim certificate. */
function claimProblems(raw: RawConfig): string[] {
  const problems: string[] = [];
  const { claimCertPath, claimKeyPath, templateName } = raw.provisioning;
  for (const [key, value, what] of [
    ['provisioning.claimCertPath', claimCertPath, 'the claim certificate'],
    ['provisioning.claimKeyPath', claimKeyPath, 'the claim private key'],
  ] as const) {
    if (value === '') {
      problems.push(`${key} is required when provisioning.claimCertPath is set: the path of ${what} shipped in the bundle`);
      continue;
    }
    try {
      fs.accessSync(value, fs.constants.R_OK);
    } catch {
      problems.push(`${key}: ${what} is missing or unreadable at ${value}; put it in the bundle (docs/deploy.md, "A fleet: provisioning by claim")`);
    }
  }
  if (templateName === '') {
    problems.push('provisioning.templateName is required when provisioning.claimCertPath is set: the stack output ProvisioningTemplateName');
  }
  return problems;
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
    localApi: { ...raw.localApi },
    provisioning: { ...raw.provisioning },
  };
}

// ---------------------------------------------------------------------------------------------
// convict reports all problems as one string, one line each: "key: message: value was X",
// "configuration param 'k' not declared in the schema" or "... 'k' missing from config, did you
// override its parent?". Each line becomes one problem naming the key, the value and the fix.

function explainConvictErrors(
  text: string,
  instance: unknown,
  leaves: Map<string, SchemaLeaf>,
  file: string | undefined,
  env: NodeJS.ProcessEnv,
): string[] {
  const problems: string[] = [];
  const seenParents = new Set<string>();
  for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
    const undeclared = /^configuration param '(.+)' not declared in the schema$/.exec(line);
    if (undeclared) {
      const key = undeclared[1] ?? '';
      // A section given as a scalar shows up here too; the "missing" lines already explained it.
      if (seenParents.has(key) || [...leaves.keys()].some((k) => k.startsWith(`${key}.`))) continue;
      const near = nearestKey(key, [...leaves.keys()]);
      problems.push(
        `${key}: unknown key${file ? ` in ${file}` : ''}${near ? `; did you mean ${near}?` : ''} (docs/config.md lists every key)`,
      );
      continue;
    }
    const missing = /^configuration param '(.+)' missing from config/.exec(line);
    if (missing) {
      const key = missing[1] ?? '';
      const parent = firstNonObjectAncestor(instance, key) ?? key;
      if (seenParents.has(parent)) continue;
      seenParents.add(parent);
      problems.push(`${parent}: must be an object holding ${parent}.* keys, got ${show(lookup(instance, parent))}; check the nesting in ${file ?? 'the config'}`);
      continue;
    }
    const m = /^([A-Za-z0-9_.]+): (.*?)(?:: value was .*)?$/.exec(line);
    const key = m?.[1];
    const leaf = key ? leaves.get(key) : undefined;
    if (!m || !key || !leaf) {
      problems.push(line);
      continue;
    }
    const envName = leaf.env;
    const fromEnv = envName !== undefined && env[envName] !== undefined;
    const origin = fromEnv ? `from environment ${envName}` : file ? `from ${file}` : 'default';
    const value = leaf.sensitive ? '' : ` = ${displayValue(lookup(instance, key))}`;
    const where = envName ? `set ${key} in the config file or ${envName}` : `set ${key} in the config file`;
    problems.push(`${key}${value} (${origin}): ${m[2] ?? ''}. Fix: ${where}.`);
  }
  return problems;
}

function lookup(obj: unknown, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function firstNonObjectAncestor(obj: unknown, key: string): string | undefined {
  const parts = key.split('.');
  for (let i = 1; i < parts.length; i++) {
    const prefix = parts.slice(0, i).join('.');
    const v = lookup(obj, prefix);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return prefix;
  }
  return undefined;
}

/** Values in error messages never show URL credentials (the URL format rejects them, but the message must not leak them). */
function displayValue(v: unknown): string {
  if (typeof v === 'string') {
    return JSON.stringify(v.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1***@'));
  }
  if (v === null || v === undefined) return '(not set)';
  return JSON.stringify(v) ?? typeof v;
}

/** The valid key closest to an unknown one (edit distance, case-insensitive), if any is close enough. */
export function nearestKey(unknown: string, known: string[]): string | undefined {
  const target = unknown.toLowerCase();
  const leafName = target.split('.').pop() ?? target;
  const fullLimit = Math.max(2, Math.floor(target.length / 4));
  let best: { key: string; score: number } | undefined;
  for (const key of known) {
    const lower = key.toLowerCase();
    const full = editDistance(target, lower);
    // A right leaf under the wrong parent ("iot.password") should find "camera.password".
    const leaf = editDistance(leafName, lower.split('.').pop() ?? lower);
    const score = full <= fullLimit ? full : leaf <= 1 && leafName.length >= 3 ? leaf + fullLimit : undefined;
    if (score !== undefined && (!best || score < best.score)) best = { key, score };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
