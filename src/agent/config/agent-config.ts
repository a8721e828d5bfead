import type convict from 'convict';
import type { Facility } from '../syslog.js';
import type { FormatName } from './formats.js';
import type { Trigger } from '../features/events/triggers.js';

// The shape of the agent's settings: what the rest of the agent sees (AgentConfig) and what convict
// holds while loading (RawConfig). The schema in schema.ts is typed against RawConfig, so drift is a
// compile error.

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
  camera: { url: string; username: string; password: string; timeoutMs: number; access: CameraAccessMode; serviceAccountUrl: string };
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
  /** Event snapshots (features/events/): off while triggers is []. */
  events: {
    triggers: Trigger[];
    capPerMinute: number;
    queue: { maxCount: number; maxBytes: number };
    /** The pre-event buffer (features/events/frame-buffer.ts): frames 0 = off. */
    preBuffer: { frames: number; fps: number; maxBytes: number; resolution: string };
  };
  /** AWS IoT Jobs (features/jobs/): remote operations (restart, diagnostics snapshot, update), one at a time. */
  jobs: { enabled: boolean; stepTimeoutMinutes: number };
  /**
   * Live view (features/live/, docs/protocol-live.md): on a live request the agent becomes the WebRTC
   * master of its KVS signalling channel and forwards the camera's RTSP H.264 to at most maxViewers.
   * The endpoints '' are derived (region from iot.endpoint, KVS from the region) or, for the
   * credentials endpoint and role alias, leave every live request failing with the fix.
   */
  live: {
    enabled: boolean;
    maxViewers: number;
    idleSeconds: number;
    rtspPort: number;
    credentialsEndpoint: string;
    roleAlias: string;
    region: string;
    kvsEndpoint: string;
    caPath: string;
    /** A camera account for RTSP ('' = the VAPIX credentials); set by `cloudcam setup live`. */
    rtspUsername: string;
    rtspPassword: string;
  };
  stateDir: string;
  log: { level: LogLevel; format: LogFormat; syslog: { url: string; facility: Facility; appName: string } };
  shadowName: string;
  /**
   * Loopback HTTP port of the agent's local API (status for `cloudcam setup check`); 0: any free port.
   * allowedPeerUids: who may use it ([] = the agent, root and the web server); identityTrialMs: how long
   * an installed certificate has to connect before the previous one is restored.
   */
  localApi: { port: number; allowedPeerUids: number[]; identityTrialMs: number };
  /**
   * Fleet provisioning by claim; off when claimCertPath is ''. When on, thingName may be '' (the thing
   * name then comes from RegisterThing) and iot.certPath/keyPath are where the provisioned identity goes.
   */
  provisioning: { claimCertPath: string; claimKeyPath: string; templateName: string; keyType: (typeof KEY_TYPES)[number] };
  /** The cloudcam.update job operation (src/agent/update/, docs/update.md). */
  update: {
    /** Trusted release public keys, {keyId}.pem (the package's certs/release-keys). */
    releaseKeysDir: string;
    /** One more trusted key file ('' = none): devcloud's dev release key. */
    extraReleaseKeyPath: string;
    allowedDownloadHosts: string[];
    insecureHttpDownloadHosts: string[];
    maxPackageBytes: number;
    downloadTimeoutMs: number;
    /** How long a new version has to connect and pass its self-check before it is rolled back. */
    connectBoundMs: number;
    /** Starts of a new version without confirming itself before it counts as a crash loop. */
    maxStarts: number;
  };
}

// The allowed values of the enumerated keys, once: the types below and the schema's lists come from these.
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export const LOG_FORMATS = ['syslog-stdout', 'json', 'pretty'] as const;
export const KEY_TYPES = ['ec-p256', 'rsa-2048'] as const;
export const CAMERA_ACCESS_MODES = ['auto', 'service-account', 'configured'] as const;
/** auto: the D-Bus service account when the camera offers one, else the configured account (camera-access.ts). */
export type CameraAccessMode = (typeof CAMERA_ACCESS_MODES)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The shape convict holds before the paths are resolved and '' turns into "not set". */
export type RawConfig = Omit<AgentConfig, 'thingName' | 'iot' | 'schedule'> & {
  thingName: string | null;
  iot: Omit<AgentConfig['iot'], 'endpoint' | 'caPath' | 'certPath' | 'keyPath'> & {
    endpoint: string | null;
    caPath: string | null;
    certPath: string | null;
    keyPath: string | null;
  };
  schedule: { cron: string; timezone: string };
};

/** What a leaf's format may be: one of our formats by name, one of convict's own, or the list of allowed values. */
export type LeafFormat<T> = FormatName | Extract<convict.PredefinedFormat, string> | readonly NonNullable<T>[] | StringConstructor;

/** One key as schema.ts writes it. No `env`: the variable is derived from the key path (keys.ts). */
export interface LeafSpec<T> {
  doc: string;
  format: LeafFormat<T>;
  default: T | null;
  sensitive?: boolean;
  env?: never;
}

/** A schema for T, key for key: a missing or extra key, a wrong default or an unknown format name is a compile error. */
export type ConfigSchema<T> = {
  [K in keyof T]-?: T[K] extends readonly unknown[] ? LeafSpec<T[K]> : T[K] extends object ? ConfigSchema<T[K]> : LeafSpec<T[K]>;
};
