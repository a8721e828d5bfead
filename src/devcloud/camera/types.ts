/**
 * The camera simulator's public shapes: how it is started (options, faults, identity) and the handle
 * devcloud and tests hold (simulator.ts builds it from the per-interface modules).
 */
import type { Logger } from '../../lib/log.js';
import type { DigestCredentials } from '../../protocol/digest.js';
import type { AppRegistry } from './apps.js';
import type { CameraEventStream } from './event-stream.js';
import type { CameraAuthPolicy } from './http-auth.js';
import type { CameraProfileName } from './profiles.js';
import type { CameraRtsp } from './rtsp/camera-rtsp.js';

export interface CameraFaults {
  /** Wait this long before answering any request. */
  delayMs?: number;
  /** 401: refuse even good credentials; 503: answer every authenticated request with 503. */
  status?: 401 | 503;
  /** Snapshots promise Content-Length N, send about half and drop the connection. */
  truncate?: boolean;
  /** Snapshots never end: chunked bytes until the client goes away. */
  endless?: boolean;
  /** upload.cgi answers `Error: N` with this N (e.g. '3': too large or disk full), whatever the package. */
  uploadError?: string;
}

export interface CameraIdentity {
  serialNumber: string;
  /** e.g. 'AXIS M3106-L Mk II' */
  model: string;
  prodNbr: string;
  architecture: 'armv7hf' | 'aarch64';
  soc: string;
  firmware: string;
}

export interface CameraSimulator {
  /** The main URL: https:// when the simulator has a certificate, else the same as httpUrl. */
  readonly url: string;
  readonly port: number;
  /** Plain HTTP, always served (what an app on the camera uses on the loopback). */
  readonly httpUrl: string;
  /** SHA-256 fingerprint (AA:BB:..) of the HTTPS certificate now served; undefined without HTTPS. */
  readonly fingerprint256: string | undefined;
  /** Serves another certificate from the next handshake on (a camera that was re-keyed or reset). */
  setCertificate(pair: CameraTlsCertificate): void;
  readonly username: string;
  readonly password: string;
  readonly identity: CameraIdentity;
  /** The firmware profile it copies (profiles.ts). */
  readonly profile: CameraProfileName;
  /** Replaces the active faults; `{}` clears them. */
  setFaults(f: CameraFaults): void;
  /** The VAPIX WebSocket event stream (event-stream.ts): fire events, drop sessions. */
  readonly events: CameraEventStream;
  /** The RTSP server (`/axis-media/media.amp`): its port, URL and open sessions. */
  readonly rtsp: CameraRtsp;
  /** Installed ACAP apps (upload.cgi, control.cgi, list.cgi). */
  readonly apps: AppRegistry;
  /** Sets how far the camera clock is off (time.cgi, the Date header); 0 = right. */
  setClockOffset(ms: number): void;
  /**
   * Where the reverse proxy sends /local/{app}/{apiPath}/... for an installed, running app: on a camera
   * the manifest's target is the app's loopback server; in devcloud the agent listens on a free port.
   */
  setAppTarget(appName: string, url: string | undefined): void;
  /** The local virtual host for service accounts, when started with serviceAccountHost. */
  readonly serviceAccounts?: ServiceAccounts;
  /** An app's parameters as its installed manifest's paramConfig would define them (root.{appName}.*). */
  defineAppParams(appName: string, defs: readonly { name: string; default: string }[]): void;
  /** The value param.cgi would list for `key` (e.g. `cloudcam.LiveRtspUsername`). */
  param(key: string): string | undefined;
  /** The role of a camera account (made by pwdgrp.cgi or the options), undefined when there is none. */
  accountRole(username: string): CameraRole | undefined;
  /** openStreams: endless-fault replies still being written (0 once their clients have gone). */
  readonly stats: { requests: number; snapshots: number; connections: number; openStreams: number; proxied: number };
  stop(): Promise<void>;
}

/**
 * VAPIX service accounts as AXIS OS 11.9+ gives them to apps: fresh random credentials per request
 * (admin access level), valid only on the local virtual host (127.0.0.12 on a camera), never on the
 * camera's main address. The D-Bus side is service-accounts.ts.
 */
export interface ServiceAccounts {
  /** The local virtual host's base URL, e.g. http://127.0.0.12:PORT. */
  readonly url: string;
  /** New credentials for `name` (what GetCredentials returns); earlier ones of that name stop working. */
  issue(name: string): DigestCredentials;
  /** Every issued credential stops working (a rotation: the next request gets 401). */
  revokeAll(): void;
  /** How many credentials were issued so far. */
  readonly issued: number;
}

export interface CameraTlsCertificate {
  certPem: string;
  keyPem: string;
}

/** Axis user groups, most privileged first. */
export type CameraRole = 'admin' | 'operator' | 'viewer';

export interface CameraSimulatorOptions {
  /** Shown in the image overlay; also seeds the default serial number. */
  name: string;
  /** The administrator account. */
  username: string;
  password: string;
  /** More accounts with lower roles (to test what an operator or viewer may not do). */
  users?: { username: string; password: string; role: CameraRole }[];
  identity?: Partial<CameraIdentity>;
  /** false: firmware older than AXIS OS 9.10, without ntp.cgi (NTP only through param.cgi). */
  ntpApi?: boolean;
  /** The firmware whose behaviour to copy (profiles.ts); its options apply under the ones given here. Default axis-os-12. */
  profile?: CameraProfileName;
  /** How each listener asks for credentials; default the profile's. */
  auth?: CameraAuthPolicy;
  /** Properties.Image.Resolution, in the camera's order; default the profile's. */
  resolutions?: string[];
  /** The Time group's DHCP side: the NTP server DHCP handed out (Time.NTP.VolatileServer, 0.0.0.0 = none). */
  dhcpNtpServer?: string;
  host?: string;
  /** The main port (HTTPS when tls is given). */
  port?: number;
  /** The RTSP port; default a free one. */
  rtspPort?: number;
  /** Serve HTTPS with this certificate on `port`, and plain HTTP on a second port. */
  tls?: CameraTlsCertificate;
  /** Also listen on this host (e.g. 127.0.0.12), accepting service-account credentials only. */
  serviceAccountHost?: string;
  /** How that host authenticates: Digest (default) or Basic only (what Axis's example uses there). */
  serviceAccountAuth?: 'digest' | 'basic';
  /** false: firmware without `event-streaming-over-websocket` (absent from API discovery, the WebSocket path 404s). Default true. */
  eventStreamingOverWebsocket?: boolean;
  /** false: event notifications carry no `timestamp` (Axis documents it as optional). Default true. */
  eventTimestamps?: boolean;
  log?: Logger;
}
