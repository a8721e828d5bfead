/**
 * A VAPIX camera on 127.0.0.1: digest-protected image.cgi, basicdeviceinfo.cgi and param.cgi,
 * with switchable faults (slow, refusing, unavailable, truncated or endless replies) so the agent's
 * error handling can be exercised against real sockets. Given a certificate it serves HTTPS as its
 * main URL and plain HTTP beside it, as an Axis camera does out of the box (self-signed certificate).
 */
import { attachEventStream, type CameraEventStream } from './event-stream.js';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/log.js';
import { readBoundedBody } from '../../lib/read-body.js';
import { BadRequestError, requestUrl } from '../../lib/request-target.js';
import type { DigestCredentials, DigestVerifier } from '../../protocol/digest.js';
import { basicVerifier, createVerifier, type CameraAuthPolicy } from './http-auth.js';
import { CAMERA_PROFILES, DEFAULT_CAMERA_PROFILE, type CameraProfileName } from './profiles.js';
import { renderFrame } from './jpeg.js';
import { createMotionState, motionBox } from './motion.js';
import { ParamTree } from './params.js';
import { ntpServerList } from '../../protocol/vapix/time.js';
import { AppRegistry, MAX_PACKAGE_BYTES, packfilPart } from './apps.js';

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
const ROLE_RANK: Record<CameraRole, number> = { admin: 3, operator: 2, viewer: 1 };

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
  /** Serve HTTPS with this certificate on `port`, and plain HTTP on a second port. */
  tls?: CameraTlsCertificate;
  /** Also listen on this host (e.g. 127.0.0.12), accepting service-account credentials only. */
  serviceAccountHost?: string;
  /** How that host authenticates: Digest (default) or Basic only (what Axis's example uses there). */
  serviceAccountAuth?: 'digest' | 'basic';
  log?: Logger;
}

const MAX_POST_BYTES = 64 * 1024;
const ENDLESS_CHUNK = Buffer.alloc(64 * 1024, 0x55);

function defaultIdentity(name: string): CameraIdentity {
  // B8A44F is an Axis MAC prefix; Axis serial numbers are the MAC address.
  const tail = createHash('sha256').update(name).digest('hex').slice(0, 6).toUpperCase();
  return {
    serialNumber: `B8A44F${tail}`,
    model: 'AXIS M3106-L Mk II',
    prodNbr: 'M3106-L Mk II',
    architecture: 'armv7hf',
    soc: 'Axis Artpec-6',
    firmware: '11.11.73',
  };
}

function text(res: ServerResponse, status: number, body: string, extra: Record<string, string | string[]> = {}): void {
  const buf = Buffer.from(body);
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': buf.length, ...extra });
  res.end(buf);
}

function json(res: ServerResponse, body: unknown): void {
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': buf.length });
  res.end(buf);
}

const readBody = (req: IncomingMessage, limit = MAX_POST_BYTES): Promise<Buffer | undefined> => readBoundedBody(req, limit);

export async function startCameraSimulator(given: CameraSimulatorOptions): Promise<CameraSimulator> {
  const profileName = given.profile ?? DEFAULT_CAMERA_PROFILE;
  const profile = CAMERA_PROFILES[profileName];
  const opts: CameraSimulatorOptions = { ...profile, ...given, identity: { ...profile.identity, ...given.identity } };
  const identity: CameraIdentity = { ...defaultIdentity(opts.name), ...opts.identity };
  const resolutions = opts.resolutions ?? ['1920x1080'];
  const authPolicy: CameraAuthPolicy = opts.auth ?? { http: { scheme: 'basic' }, https: { scheme: 'basic' } };
  const log = opts.log?.child({ camera: opts.name });
  const buildDate = 'Oct 14 2025 10:12';
  const params = new ParamTree({
    brand: {
      prodFullName: `${identity.model} Network Camera`,
      prodNbr: identity.prodNbr,
      prodShortName: identity.model,
    },
    serialNumber: identity.serialNumber,
    architecture: identity.architecture,
    soc: identity.soc,
    firmware: identity.firmware,
    buildDate,
    resolutions,
    defaultResolution: resolutions.includes('1920x1080') ? '1920x1080' : (resolutions[0] ?? '1920x1080'),
    dhcpNtpServer: opts.dhcpNtpServer ?? '0.0.0.0',
    defaultCompression: 30,
  });
  const properties: Record<string, string> = {
    Architecture: identity.architecture,
    Brand: 'AXIS',
    BuildDate: buildDate,
    HardwareID: '9B0',
    ProdFullName: `${identity.model} Network Camera`,
    ProdNbr: identity.prodNbr,
    ProdShortName: identity.model,
    ProdType: 'Network Camera',
    ProdVariant: '',
    SerialNumber: identity.serialNumber,
    Soc: identity.soc,
    SocSerialNumber: `00000000-00000000-${identity.serialNumber}`,
    Version: identity.firmware,
    WebURL: 'http://www.axis.com',
  };
  const UNRESTRICTED = new Set([
    'Brand',
    'BuildDate',
    'HardwareID',
    'ProdFullName',
    'ProdNbr',
    'ProdShortName',
    'ProdType',
    'ProdVariant',
    'SerialNumber',
    'Version',
    'WebURL',
  ]);

  // Axis cameras use AXIS_<MAC> as the realm.
  const realm = `AXIS_${identity.serialNumber}`;
  const users = { [opts.username]: opts.password, ...Object.fromEntries((opts.users ?? []).map((u) => [u.username, u.password])) };
  const verifier = createVerifier(authPolicy.http, realm, users);
  const httpsVerifier = createVerifier(authPolicy.https, realm, users);

  const roles = new Map<string, CameraRole>([...(opts.users ?? []).map((u) => [u.username, u.role] as const), [opts.username, 'admin']]);
  let faults: CameraFaults = {};
  let clockOffsetMs = 0;
  const apps = new AppRegistry(identity.architecture);
  const appTargets = new Map<string, string>();
  const cameraNow = (): Date => new Date(Date.now() + clockOffsetMs);
  let seq = 0;
  const motion = createMotionState();
  const stats = { requests: 0, snapshots: 0, connections: 0, openStreams: 0, proxied: 0 };
  const timers = new Set<NodeJS.Timeout>();

  /** Resolves false when the client went away during the wait. */
  function wait(ms: number, res: ServerResponse): Promise<boolean> {
    return new Promise((resolve) => {
      const onClose = () => {
        clearTimeout(t);
        timers.delete(t);
        resolve(false);
      };
      const t = setTimeout(() => {
        timers.delete(t);
        res.off('close', onClose);
        resolve(true);
      }, ms);
      timers.add(t);
      res.once('close', onClose);
    });
  }

  // Service accounts: a realm and a user list of their own, so no credential works on both hosts.
  const serviceUsers: Record<string, string> = {};
  const serviceVerifier =
    opts.serviceAccountAuth === 'basic' ? basicVerifier(realm, serviceUsers) : createVerifier(authPolicy.http, realm, serviceUsers);
  let issued = 0;

  function unauthorized(res: ServerResponse, stale: boolean, v: DigestVerifier = verifier): void {
    text(res, 401, '401 Unauthorized\n', { 'WWW-Authenticate': v.challenges(stale) });
  }

  async function snapshot(url: URL, res: ServerResponse): Promise<void> {
    const resolution = url.searchParams.get('resolution') ?? params.get('Image.I0.Appearance.Resolution') ?? '1920x1080';
    if (!resolutions.includes(resolution)) {
      text(res, 400, `Error: resolution '${resolution}' is not supported; see Properties.Image.Resolution\n`);
      return;
    }
    const compressionRaw = url.searchParams.get('compression') ?? params.get('Image.I0.Appearance.Compression') ?? '30';
    if (!/^\d{1,3}$/.test(compressionRaw) || Number(compressionRaw) > 100) {
      text(res, 400, `Error: compression '${compressionRaw}' must be an integer 0..100\n`);
      return;
    }
    const [w, h] = resolution.split('x').map(Number) as [number, number];
    const current = faults;

    if (current.endless) {
      stats.snapshots++;
      res.writeHead(200, { 'Content-Type': 'image/jpeg' }); // no length: chunked, never ends
      res.write(Buffer.from([0xff, 0xd8, 0xff, 0xe0]));
      const iv = setInterval(() => {
        if (res.destroyed) return;
        if (!res.writableNeedDrain) res.write(ENDLESS_CHUNK);
      }, 2);
      timers.add(iv);
      stats.openStreams++;
      res.once('close', () => {
        clearInterval(iv);
        timers.delete(iv);
        stats.openStreams--;
      });
      return;
    }

    const now = Date.now();
    const motionSince = motion.activeSince(now);
    const jpeg = await renderFrame({
      width: w,
      height: h,
      quality: Math.min(100, Math.max(1, 100 - Number(compressionRaw))),
      cameraName: opts.name,
      seq: ++seq,
      time: new Date(now),
      object: motionSince === undefined ? undefined : motionBox(w, h, now - motionSince),
    });
    if (res.destroyed) return;
    stats.snapshots++;
    res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length });
    if (current.truncate) {
      res.write(jpeg.subarray(0, Math.floor(jpeg.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(jpeg);
  }

  async function basicDeviceInfo(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Replies follow the Basic device information API: {apiVersion, context, data} or {.., error}.
    const error = (code: number, message: string, context?: unknown) =>
      json(res, { apiVersion: '1.3', ...(context === undefined ? {} : { context }), error: { code, message } });
    if (req.method !== 'POST') return error(2002, 'HTTP request type not supported. Only POST is supported.');
    const body = await readBody(req);
    if (!body) return text(res, 413, 'Request body too large\n');
    let msg: unknown;
    try {
      msg = JSON.parse(body.toString('utf8'));
    } catch {
      return error(4000, 'Invalid JSON');
    }
    if (typeof msg !== 'object' || msg === null) return error(4000, 'Invalid JSON');
    const m = msg as { apiVersion?: unknown; context?: unknown; method?: unknown; params?: unknown };
    const context = m.context;
    if (m.method === 'getSupportedVersions') {
      return json(res, { apiVersion: '1.3', context, data: { apiVersions: ['1.3'] } });
    }
    if (typeof m.apiVersion !== 'string' || !/^1(\.\d+)?$/.test(m.apiVersion)) {
      return error(2003, 'Requested API version is not supported', context);
    }
    const pick = (keys: Iterable<string>) => Object.fromEntries([...keys].filter((k) => k in properties).map((k) => [k, properties[k] ?? '']));
    switch (m.method) {
      case 'getAllProperties':
        return json(res, { apiVersion: m.apiVersion, context, data: { propertyList: { ...properties } } });
      case 'getAllUnrestrictedProperties':
        return json(res, { apiVersion: m.apiVersion, context, data: { propertyList: pick(UNRESTRICTED) } });
      case 'getProperties': {
        const list = (m.params as { propertyList?: unknown } | undefined)?.propertyList;
        if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) {
          return error(4002, 'params.propertyList must be a list of property names', context);
        }
        return json(res, { apiVersion: m.apiVersion, context, data: { propertyList: pick(list) } });
      }
      default:
        return error(2004, 'The requested method is not supported', context);
    }
  }

  async function paramCgi(req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
    let q = url.searchParams;
    if (req.method === 'POST') {
      const body = await readBody(req);
      if (!body) return text(res, 413, 'Request body too large\n');
      q = new URLSearchParams(body.toString('utf8'));
    }
    const action = q.get('action');
    if (action === 'list') return text(res, 200, params.list(q.get('group')));
    if (action === 'update') {
      const values = [...q.entries()].filter(([k]) => k !== 'action' && k !== 'usergroup');
      return text(res, 200, params.update(values));
    }
    return text(res, 200, `# Error: Unknown action '${action ?? ''}'\n`);
  }

  /** JSON APIs (ntp.cgi, time.cgi) share one envelope: {apiVersion, context, method, data|error}. */
  async function jsonApi(
    req: IncomingMessage,
    res: ServerResponse,
    methods: Record<string, (params: Record<string, unknown>) => unknown>,
  ): Promise<void> {
    const body = req.method === 'POST' ? await readBody(req) : undefined;
    let m: { apiVersion?: unknown; context?: unknown; method?: unknown; params?: unknown } = {};
    try {
      m = JSON.parse(body?.toString('utf8') ?? '') as typeof m;
    } catch {
      return json(res, { apiVersion: '1.0', error: { code: 4000, message: 'Invalid JSON' } });
    }
    const fn = typeof m.method === 'string' ? methods[m.method] : undefined;
    if (!fn) return json(res, { apiVersion: '1.0', context: m.context, error: { code: 2004, message: 'The requested method is not supported' } });
    try {
      const data = fn((m.params ?? {}) as Record<string, unknown>);
      return json(res, { apiVersion: '1.0', context: m.context, method: m.method, data });
    } catch (err) {
      return json(res, { apiVersion: '1.0', context: m.context, method: m.method, error: { code: 2002, message: (err as Error).message } });
    }
  }

  function ntpClient(): Record<string, unknown> {
    // As the camera's ntp.cgi reports param.cgi's Time group: 0.0.0.0 is no server; DHCP's is advertisedServers.
    const staticServers = ntpServerList(params.get('Time.NTP.Server'));
    const advertisedServers = ntpServerList(params.get('Time.NTP.VolatileServer'));
    const enabled = params.get('Time.SyncSource') === 'NTP';
    const serversSource = params.get('Time.ObtainFromDHCP') === 'yes' ? 'DHCP' : 'static';
    const inUse = serversSource === 'DHCP' ? advertisedServers : staticServers;
    return {
      enabled,
      serversSource,
      staticServers,
      advertisedServers,
      NTSEnabled: false,
      synced: enabled && inUse.length > 0 && clockOffsetMs === 0,
      timeOffset: clockOffsetMs / 1000,
    };
  }

  const ntpMethods = {
    getNTPInfo: () => ({ client: ntpClient() }),
    setNTPClientConfiguration: (p: Record<string, unknown>) => {
      const updates: [string, string][] = [];
      if (p['enabled'] !== undefined) {
        if (typeof p['enabled'] !== 'boolean') throw new Error('enabled must be a boolean');
        updates.push(['Time.SyncSource', p['enabled'] ? 'NTP' : 'None']);
      }
      if (p['serversSource'] !== undefined) {
        if (p['serversSource'] !== 'static' && p['serversSource'] !== 'DHCP') throw new Error('serversSource must be static or DHCP');
        updates.push(['Time.ObtainFromDHCP', p['serversSource'] === 'DHCP' ? 'yes' : 'no']);
      }
      if (p['staticServers'] !== undefined) {
        const list = p['staticServers'];
        if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && /^[A-Za-z0-9.:-]{1,253}$/.test(x))) {
          throw new Error('staticServers must be a list of host names or addresses');
        }
        updates.push(['Time.NTP.Server', list.join(',')]);
      }
      if (updates.length > 0 && params.update(updates) !== 'OK\n') throw new Error('invalid NTP configuration');
      return {};
    },
  };

  const timeMethods = {
    getDateTimeInfo: () => {
      const now = cameraNow();
      return {
        dateTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        localDateTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        timeZone: 'Etc/UTC',
        posixTimeZone: params.get('Time.POSIXTimeZone') ?? 'UTC0',
        dstEnabled: params.get('Time.DST.Enabled') === 'yes',
      };
    },
  };

  async function applications(req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
    switch (url.pathname) {
      case '/axis-cgi/applications/upload.cgi': {
        if (req.method !== 'POST') return text(res, 405, 'Method Not Allowed\n');
        const body = await readBody(req, MAX_PACKAGE_BYTES + 64 * 1024);
        if (!body) return text(res, 200, 'Error: 3\n');
        if (faults.uploadError) return text(res, 200, `Error: ${faults.uploadError}\n`);
        return text(res, 200, `${apps.upload(packfilPart(body, req.headers['content-type']))}\n`);
      }
      case '/axis-cgi/applications/control.cgi':
        return text(res, 200, `${apps.control(url.searchParams.get('action'), url.searchParams.get('package'))}\n`);
      case '/axis-cgi/applications/list.cgi': {
        const buf = Buffer.from(apps.listXml());
        res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': buf.length });
        res.end(buf);
        return;
      }
      default:
        return text(res, 404, 'Not Found\n');
    }
  }

  /**
   * /local/{app}/{apiPath}/rest -> {target}/rest, for a running app that declares apiPath, to users
   * whose role reaches the entry's access. A user below it gets 401 with a new challenge, as Apache
   * answers an authenticated user its authorization refuses (without AuthzSendForbiddenOnFailure).
   */
  async function reverseProxy(req: IncomingMessage, url: URL, res: ServerResponse, username: string, v: DigestVerifier): Promise<void> {
    const [, , appName = '', apiPath = '', ...rest] = url.pathname.split('/');
    const app = apps.get(appName);
    const entry = app?.manifest.reverseProxy.find((p) => p.apiPath === apiPath);
    if (!app || !entry || app.status !== 'Running') return text(res, 404, 'Not Found\n');
    const needed = entry.access === 'anonymous' ? 0 : (ROLE_RANK[entry.access as CameraRole] ?? ROLE_RANK.admin);
    if (ROLE_RANK[roles.get(username) ?? 'viewer'] < needed) return unauthorized(res, false, v);
    const target = new URL(appTargets.get(appName) ?? entry.target);
    const body = await readBody(req, 1024 * 1024);
    if (body === undefined) return text(res, 413, 'Request Entity Too Large\n');
    const forwardPath = `${target.pathname.replace(/\/$/, '')}/${rest.join('/')}${url.search}`;
    stats.proxied++;
    await new Promise<void>((resolve) => {
      const out = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: forwardPath, headers: { 'content-type': req.headers['content-type'] ?? 'application/octet-stream', 'content-length': body.length } },
        (upstream) => {
          res.writeHead(upstream.statusCode ?? 502, { 'Content-Type': upstream.headers['content-type'] ?? 'text/plain' });
          upstream.pipe(res);
          upstream.on('end', resolve);
          upstream.on('error', () => resolve());
        },
      );
      out.on('error', () => {
        // What Apache answers when the app's server is down.
        text(res, 503, 'Service Unavailable\n');
        resolve();
      });
      out.end(body);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, v: DigestVerifier): Promise<void> {
    stats.requests++;
    const url = requestUrl(req.url);
    log?.debug({ method: req.method, path: url.pathname }, 'vapix request');
    // The camera's own clock, which may be off: every reply carries it, as Apache's Date header.
    res.setHeader('Date', cameraNow().toUTCString());
    const current = faults;
    if (current.delayMs && !(await wait(current.delayMs, res))) return;
    const isLocal = url.pathname.startsWith('/local/');
    if (!url.pathname.startsWith('/axis-cgi/') && !isLocal) return text(res, 404, 'Not Found\n');
    if (current.status === 401) return unauthorized(res, false, v);
    const auth = v.verify(req.headers.authorization, req.method ?? 'GET', req.url ?? '/');
    if (!auth.ok) return unauthorized(res, auth.stale, v);
    if (current.status === 503) return text(res, 503, 'Service Unavailable\n');
    switch (url.pathname) {
      case '/axis-cgi/jpg/image.cgi':
        return snapshot(url, res);
      case '/axis-cgi/basicdeviceinfo.cgi':
        return basicDeviceInfo(req, res);
      case '/axis-cgi/param.cgi':
        return paramCgi(req, url, res);
      case '/axis-cgi/ntp.cgi':
        if (opts.ntpApi === false) return text(res, 404, 'Not Found\n');
        return jsonApi(req, res, ntpMethods);
      case '/axis-cgi/time.cgi':
        if (opts.ntpApi === false) return text(res, 404, 'Not Found\n');
        return jsonApi(req, res, timeMethods);
      default:
        if (isLocal) return reverseProxy(req, url, res, auth.username, v);
        if (url.pathname.startsWith('/axis-cgi/applications/')) return applications(req, url, res);
        return text(res, 404, 'Not Found\n');
    }
  }

  const onRequestWith =
    (v: DigestVerifier) =>
    (req: IncomingMessage, res: ServerResponse): void => {
      handle(req, res, v).catch((err: unknown) => {
        if (err instanceof BadRequestError) {
          log?.debug({ err: err.message }, 'malformed vapix request');
          if (!res.headersSent) return text(res, 400, 'Bad Request\n');
        } else {
          log?.error({ err }, 'camera simulator request failed');
        }
        if (!res.headersSent) text(res, 500, 'Internal Server Error\n');
        else res.destroy();
      });
    };
  const httpServer = createServer(onRequestWith(verifier));
  let tlsCert = opts.tls;
  const httpsServer = tlsCert ? createHttpsServer({ cert: tlsCert.certPem, key: tlsCert.keyPem }, onRequestWith(httpsVerifier)) : undefined;
  // HTTPS counts a connection once its handshake is through: a refused handshake made no request.
  httpServer.on('connection', () => {
    stats.connections++;
  });
  httpsServer?.on('secureConnection', () => {
    stats.connections++;
  });
  const servers: Server[] = httpsServer ? [httpsServer, httpServer] : [httpServer];

  const host = opts.host ?? '127.0.0.1';
  const listen = (server: Server, port: number, on = host): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, on, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const urlHost = (h: string): string => (h.includes(':') ? `[${h}]` : h);
  const port = await listen(servers[0]!, opts.port ?? 0);
  const httpPort = httpsServer ? await listen(httpServer, 0) : port;
  const httpUrl = `http://${urlHost(host)}:${httpPort}`;
  const url = httpsServer ? `https://${urlHost(host)}:${port}` : httpUrl;
  const fingerprintOf = (pair: CameraTlsCertificate | undefined): string | undefined => (pair ? new X509Certificate(pair.certPem).fingerprint256 : undefined);
  log?.info({ url, httpUrl, serial: identity.serialNumber, fingerprint256: fingerprintOf(tlsCert) }, 'camera simulator listening');
  const serviceServer =
    opts.serviceAccountHost === undefined
      ? undefined
      : createServer(onRequestWith(serviceVerifier)).on('connection', () => {
          stats.connections++;
        });
  let serviceAccounts: ServiceAccounts | undefined;
  if (serviceServer) {
    const serviceHost = opts.serviceAccountHost ?? '127.0.0.12';
    const serviceUrl = `http://${urlHost(serviceHost)}:${await listen(serviceServer, 0, serviceHost)}`;
    servers.push(serviceServer);
    serviceAccounts = {
      url: serviceUrl,
      issue(name) {
        // AXIS OS names the user after the requested name with a prefix (docs: "a0-testuser").
        const username = `a0-${name}`;
        const password = randomBytes(24).toString('base64url');
        serviceUsers[username] = password;
        roles.set(username, 'admin');
        issued++;
        return { username, password };
      },
      revokeAll() {
        for (const u of Object.keys(serviceUsers)) delete serviceUsers[u];
      },
      get issued() {
        return issued;
      },
    };
  }

  // The service-account host answers with its own verifier, as it does for every other VAPIX path.
  const events = attachEventStream(
    [...new Set(servers)].map((server) => ({ server, verifier: server === serviceServer ? serviceVerifier : server === httpsServer ? httpsVerifier : verifier })),
    log,
    (event) => motion.observe(event),
  );

  return {
    url,
    port,
    httpUrl,
    get fingerprint256() {
      return fingerprintOf(tlsCert);
    },
    setCertificate(pair) {
      if (!httpsServer) throw new Error('this camera simulator serves no HTTPS: start it with a tls certificate');
      httpsServer.setSecureContext({ cert: pair.certPem, key: pair.keyPem });
      tlsCert = pair;
      log?.info({ fingerprint256: fingerprintOf(pair) }, 'camera simulator certificate replaced');
    },
    username: opts.username,
    password: opts.password,
    identity,
    profile: profileName,
    ...(serviceAccounts ? { serviceAccounts } : {}),
    stats,
    setFaults(f) {
      faults = { ...f };
    },
    apps,
    setClockOffset(ms) {
      clockOffsetMs = ms;
    },
    setAppTarget(appName, target) {
      if (target === undefined) appTargets.delete(appName);
      else appTargets.set(appName, target);
    },
    events,
    async stop() {
      events.close();
      for (const t of timers) clearTimeout(t); // clearTimeout also clears intervals
      timers.clear();
      const closed = servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
      for (const server of servers) server.closeAllConnections();
      await Promise.all(closed);
    },
  };
}
