/**
 * `cloudcam setup check`: one preflight report, a line per check, each ✗ with its fix. A check that
 * cannot run because an earlier one failed is shown as skipped, never as passed.
 */
import { liveAccountLine } from './live-check.js';
import type { VapixClient } from '../protocol/vapix/client.js';
import { VapixError } from '../protocol/vapix/errors.js';
import { describeAuthScheme } from '../protocol/vapix/auth.js';
import { serversInUse } from '../protocol/vapix/time.js';
import { listApps } from '../protocol/vapix/applications.js';
import { readCameraClock } from '../protocol/vapix/time.js';
import type { AgentStatus } from '../agent/features/local-api.js';
import type { CameraTrust } from './camera-store.js';
import { describeNtpServers, readNtp } from './ntp.js';
import { DEFAULT_MAX_SKEW_MS, describeClock } from './ntp.js';

export interface CheckLine {
  name: string;
  /** undefined: skipped because an earlier check failed. */
  ok: boolean | undefined;
  detail: string;
  fix?: string;
}

export interface CheckOptions {
  appName?: string;
  /** Expected app version; any version passes when absent. */
  version?: string;
  maxSkewMs?: number;
  /** Certificate must stay valid at least this long. */
  minCertLifeMs?: number;
  /** How the camera's HTTPS certificate is trusted: reported as its own line. */
  trust?: CameraTrust;
  /** The camera's RTSP port, for the live account's DESCRIBE (default 554). */
  rtspPort?: number;
}

/** The camera certificate line: how this computer knows it talks to the camera and not to an impostor. */
export function trustLine(trust: CameraTrust, now = Date.now()): CheckLine {
  switch (trust.kind) {
    case 'pinned': {
      const expired = Date.parse(trust.validTo) <= now;
      return {
        name: 'camera certificate',
        ok: !expired,
        detail: `pinned SHA256 ${trust.fingerprint256} (${trust.subject}, pinned ${trust.pinnedAt.slice(0, 10)}, valid until ${trust.validTo})${expired ? ' EXPIRED' : ''}`,
        ...(expired ? { fix: 'renew the certificate on the camera, then re-pin: cloudcam camera add ADDRESS --repin' } : {}),
      };
    }
    case 'ca':
      return { name: 'camera certificate', ok: true, detail: `verified against the CA in ${trust.caFile} (host name checked)` };
    case 'insecure-http':
      return {
        name: 'camera certificate',
        ok: false,
        detail: 'none: insecure HTTP (credentials and replies unprotected; setup certs and install refuse this camera)',
        fix: 'add the camera over HTTPS: cloudcam camera add ADDRESS (it pins the certificate)',
      };
  }
}

const DAY = 86_400_000;

export async function runChecks(camera: VapixClient, opts: CheckOptions = {}): Promise<CheckLine[]> {
  const appName = opts.appName ?? 'cloudcam';
  const lines: CheckLine[] = opts.trust ? [trustLine(opts.trust)] : [];
  const skip = (...names: string[]): CheckLine[] => {
    for (const name of names) lines.push({ name, ok: undefined, detail: 'skipped (an earlier check failed)' });
    return lines;
  };

  // reachable + credentials
  try {
    const info = await camera.basicDeviceInfo();
    lines.push({ name: 'reachable', ok: true, detail: `${camera.origin} answers VAPIX (${info['ProdShortName'] ?? 'Axis device'}, AXIS OS ${info['Version'] ?? '?'})` });
    lines.push({ name: 'credentials', ok: true, detail: `accepted; authentication ${describeAuthScheme(camera.authScheme)}` });
  } catch (err) {
    if (err instanceof VapixError && err.kind === 'tls') {
      lines.push({ name: 'reachable', ok: false, detail: err.message.split('. Fix: ')[0]!, fix: err.fix ?? 'see the message' });
      skip('credentials');
    } else if (err instanceof VapixError && err.kind === 'auth') {
      lines.push({ name: 'reachable', ok: true, detail: `${camera.origin} answers` });
      // Refused credentials, or a scheme this client will not answer here (Basic over plain HTTP): the message says which.
      const refused = /refused the credentials/.test(err.message);
      lines.push({
        name: 'credentials',
        ok: false,
        detail: refused ? 'refused (HTTP 401)' : err.message.replace(/^camera at \S+ /, ''),
        fix: refused ? 'store the right user and password: cloudcam camera add ADDRESS' : 'add the camera over HTTPS: cloudcam camera add ADDRESS (it pins the certificate)',
      });
    } else {
      lines.push({ name: 'reachable', ok: false, detail: (err as Error).message, fix: 'check the address, that the camera is powered, and that this computer is on its network' });
      skip('credentials');
    }
    return skip('clock', 'NTP', 'app', 'certificates', 'agent connected');
  }

  // clock
  const maxSkewMs = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  let cameraNow = Date.now();
  try {
    const clock = await readCameraClock(camera);
    cameraNow += clock.offsetMs;
    const d = describeClock(clock, maxSkewMs);
    lines.push({ name: 'clock', ok: d.ok, detail: d.text, ...(d.ok ? {} : { fix: 'run `cloudcam setup ntp --server <a server the camera can reach>`; TLS to AWS fails when the clock is far off' }) });
  } catch (err) {
    lines.push({ name: 'clock', ok: false, detail: (err as Error).message, fix: 'check the camera time on its web page (System > Date and time)' });
  }

  // NTP
  try {
    const { api, config } = await readNtp(camera);
    const servers = describeNtpServers(config);
    const ok = config.enabled && serversInUse(config).length > 0 && config.synced !== false;
    lines.push({
      name: 'NTP',
      ok,
      detail: `${config.enabled ? 'on' : 'off'}, servers ${servers}${config.synced === undefined ? '' : config.synced ? ', synced' : ', not synced'} (${api})`,
      ...(ok ? {} : { fix: 'run `cloudcam setup ntp --server <ntp server>` and check that the camera can reach it (UDP 123)' }),
    });
  } catch (err) {
    lines.push({ name: 'NTP', ok: false, detail: (err as Error).message, fix: 'set NTP on the camera web page (System > Date and time)' });
  }

  // app
  let running = false;
  try {
    const app = (await listApps(camera)).find((a) => a.name === appName);
    if (!app) {
      lines.push({ name: 'app', ok: false, detail: `${appName} is not installed`, fix: 'run `cloudcam install`' });
    } else {
      running = app.status === 'Running';
      const versionOk = opts.version === undefined || app.version === opts.version;
      lines.push({
        name: 'app',
        ok: running && versionOk,
        detail: `${appName} ${app.version} ${app.status.toLowerCase()}${versionOk ? '' : ` (expected ${opts.version})`}`,
        ...(running && versionOk ? {} : { fix: versionOk ? 'run `cloudcam install` (it starts an installed app) and read the app log if it stops again' : 'run `cloudcam install` with the expected package' }),
      });
      const eol = runtimeEndOfLifeLine(app.niceName);
      if (eol) lines.push(eol);
    }
  } catch (err) {
    lines.push({ name: 'app', ok: false, detail: (err as Error).message, fix: 'the camera needs ACAP support (Application API)' });
  }
  const live = await liveAccountLine(camera, appName, opts.rtspPort);
  if (live) lines.push(live);
  if (!running) return skip('certificates', 'agent connected');

  // agent status through the camera's reverse proxy (admin only)
  let status: AgentStatus;
  try {
    const res = await camera.call('GET', `/local/${appName}/api/status`);
    if (res.status !== 200) throw new Error(`HTTP ${res.status} from /local/${appName}/api/status`);
    status = JSON.parse(res.body.toString('utf8')) as AgentStatus;
  } catch (err) {
    lines.push({
      name: 'certificates',
      ok: false,
      detail: `cannot read the agent status: ${(err as Error).message}`,
      fix: 'the stored user must be an admin (the app endpoint is admin-only); else restart the app and read its log',
    });
    return skip('agent connected');
  }
  if (!status.certificate) {
    lines.push({ name: 'certificates', ok: false, detail: status.certificateError ?? 'the agent has no device certificate', fix: 'install one with `cloudcam setup certs`' });
  } else {
    const { notBefore, notAfter, subject } = status.certificate;
    const left = Date.parse(notAfter) - cameraNow;
    const notYet = Date.parse(notBefore) > cameraNow;
    const ok = !notYet && left > (opts.minCertLifeMs ?? 7 * DAY);
    lines.push({
      name: 'certificates',
      ok,
      detail: `${subject.replace(/\n/g, ', ')}, valid until ${notAfter}${notYet ? ` but not before ${notBefore} by the camera clock` : left <= 0 ? ' (expired)' : ''}`,
      ...(ok ? {} : { fix: notYet ? 'fix the camera clock (cloudcam setup ntp)' : 'install a new certificate: cloudcam setup certs' }),
    });
  }
  lines.push({
    name: 'agent connected',
    ok: status.connected,
    detail: status.connected ? `${status.thingName} connected since ${status.since}` : `${status.thingName} not connected${status.lastDisconnectReason ? `: ${status.lastDisconnectReason}` : ''}`,
    ...(status.connected ? {} : { fix: 'check that the camera reaches the IoT endpoint (TCP 8883 or 443), its clock and its certificate; the app log names the cause' }),
  });
  lines.push(vapixAccessLine(status));
  const events = eventsLine(status);
  if (events) lines.push(events);
  return lines;
}

/** The event snapshots line, when the agent has triggers: firmware without the event stream is named as such. */
export function eventsLine(status: AgentStatus): CheckLine | undefined {
  const state = status.events?.state;
  if (state === undefined) return undefined;
  if (state === 'unsupported by this firmware') {
    return { name: 'events', ok: false, detail: `event snapshots ${state} (no event-streaming-over-websocket in the camera's API discovery)`, fix: 'upgrade AXIS OS to 11 or later; snapshots on request and on schedule work without it' };
  }
  const { uploaded, queued } = status.events ?? { uploaded: 0, queued: 0 };
  return { name: 'events', ok: state === 'connected' ? true : undefined, detail: `camera event stream ${state}; ${uploaded} event snapshots uploaded, ${queued} queued` };
}

export function formatCheck(lines: CheckLine[]): string {
  const width = Math.max(...lines.map((l) => l.name.length));
  return lines
    .map((l) => {
      const mark = l.ok === undefined ? '-' : l.ok ? '✓' : '✗';
      const head = `${mark} ${l.name.padEnd(width)}  ${l.detail}`;
      return l.fix && l.ok === false ? `${head}\n  ${' '.repeat(width)}  fix: ${l.fix}` : head;
    })
    .join('\n');
}

/**
 * The AXIS OS 11 package runs an official Node past its end of life, and says so in its friendly name
 * (list.cgi's NiceName; src/packaging/build.ts): a failed line with the two ways out.
 */
export function runtimeEndOfLifeLine(niceName: string): CheckLine | undefined {
  if (!/end of life/i.test(niceName)) return undefined;
  return {
    name: 'runtime',
    ok: false,
    detail: `${niceName}: its Node is past end of life, with no more security fixes`,
    fix: 'upgrade the camera to AXIS OS 12 and `cloudcam install` the armv7hf package (Debian\'s security-maintained Node), or rebuild the AXIS OS 11 package with NODE_TARBALL_armv7hf=node-v22.x.y-linux-armv7l.tar.xz (an official Node 22 build) and install that',
  };
}

/** Which VAPIX credentials the agent uses: informational, both paths work. */
function vapixAccessLine(status: AgentStatus): CheckLine {
  switch (status.vapixAccess) {
    case 'service-account':
      return { name: 'VAPIX access', ok: true, detail: 'D-Bus service account at 127.0.0.12 (no camera password stored on the camera)' };
    case 'configured':
      return { name: 'VAPIX access', ok: true, detail: 'configured account (camera.username/password in the agent settings); AXIS OS 11.9+ offers a keyless service account instead' };
    default:
      return { name: 'VAPIX access', ok: undefined, detail: `not reported by agent ${status.agentVersion} (older than keyless VAPIX)` };
  }
}
