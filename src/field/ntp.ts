/**
 * `cloudcam setup ntp`: makes the camera use the given NTP servers (ntp.cgi, or param.cgi on older
 * firmware), changing only what differs, then checks the camera clock against this computer's.
 * The seed's script had this check inverted; tests cover a right camera left alone and a wrong one fixed.
 */
import type { VapixClient } from '../protocol/vapix/client.js';
import { getNtpClient, getNtpParams, NoNtpApi, readCameraClock, setNtpClient, setNtpParams, type CameraClock, type NtpClientConfig } from '../protocol/vapix/time.js';

/** TLS and AWS SigV4 tolerate minutes; 60 s leaves room while catching a camera that never synced. */
export const DEFAULT_MAX_SKEW_MS = 60_000;

export interface NtpResult {
  api: 'ntp.cgi' | 'param.cgi';
  before: NtpClientConfig;
  after: NtpClientConfig;
  /** Human-readable changes; empty when the camera was already right. */
  changes: string[];
  clock: CameraClock & { ok: boolean; maxSkewMs: number };
}

export async function readNtp(camera: VapixClient): Promise<{ api: NtpResult['api']; config: NtpClientConfig }> {
  try {
    return { api: 'ntp.cgi', config: await getNtpClient(camera) };
  } catch (err) {
    if (!(err instanceof NoNtpApi)) throw err;
    return { api: 'param.cgi', config: await getNtpParams(camera) };
  }
}

export function describeClock(clock: CameraClock, maxSkewMs: number): { ok: boolean; text: string } {
  const s = Math.abs(clock.offsetMs) / 1000;
  const dir = clock.offsetMs > 0 ? 'ahead of' : 'behind';
  const ok = Math.abs(clock.offsetMs) <= maxSkewMs;
  const amount = s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`;
  return { ok, text: ok ? `camera clock within ${maxSkewMs / 1000} s of this computer (${amount} ${dir})` : `camera clock is ${amount} ${dir} this computer (limit ${maxSkewMs / 1000} s)` };
}

/** Where the camera's NTP servers come from and which they are, for a report line. */
export function describeNtpServers(cfg: NtpClientConfig): string {
  if (cfg.serversSource === 'DHCP') {
    return cfg.dhcpServers.length > 0 ? `from DHCP: ${cfg.dhcpServers.join(', ')}` : 'from DHCP, but DHCP handed out none';
  }
  return cfg.staticServers.length > 0 ? cfg.staticServers.join(', ') : '(none)';
}

type NtpWish = Pick<NtpClientConfig, 'enabled' | 'serversSource' | 'staticServers'>;

/**
 * servers: use these static servers; dhcp: use what DHCP hands out; neither: keep the source and
 * servers, turning the client on. Refuses, before changing anything, a result with no server.
 */
export async function setupNtp(camera: VapixClient, servers: string[], opts: { maxSkewMs?: number; dhcp?: boolean } = {}): Promise<NtpResult> {
  for (const s of servers) {
    if (!/^[A-Za-z0-9.:-]{1,253}$/.test(s)) throw new Error(`"${s}" is not an NTP server name or address`);
  }
  if (opts.dhcp && servers.length > 0) throw new Error('give either --server (static servers) or --dhcp (the servers DHCP hands out), not both');
  const { api, config: before } = await readNtp(camera);
  const want: NtpWish =
    servers.length > 0
      ? { enabled: true, serversSource: 'static', staticServers: servers }
      : { enabled: true, serversSource: opts.dhcp ? 'DHCP' : before.serversSource, staticServers: before.staticServers };
  if (want.serversSource === 'static' && want.staticServers.length === 0) {
    throw new Error('the camera has no NTP server and none was given: pass --server, e.g. --server pool.ntp.org');
  }
  if (want.serversSource === 'DHCP' && before.dhcpServers.length === 0) {
    throw new Error(
      'the camera takes its NTP server from DHCP, but DHCP handed out none (Time.NTP.VolatileServer is 0.0.0.0): ' +
        'pass --server NAME, or have the DHCP server send an NTP server (option 42) and renew the lease',
    );
  }
  const changes: string[] = [];
  if (!before.enabled) changes.push('NTP client: off -> on');
  if (before.serversSource !== want.serversSource) changes.push(`server source: ${before.serversSource} -> ${want.serversSource}`);
  if (servers.length > 0 && before.staticServers.join(',') !== servers.join(',')) {
    changes.push(`servers: ${before.staticServers.join(', ') || '(none)'} -> ${servers.join(', ')}`);
  }
  if (changes.length > 0) {
    if (api === 'ntp.cgi') await setNtpClient(camera, want);
    else await setNtpParams(camera, want);
  }
  const after = (await readNtp(camera)).config;
  if (
    changes.length > 0 &&
    (after.enabled !== want.enabled || after.serversSource !== want.serversSource || (servers.length > 0 && after.staticServers.join(',') !== servers.join(',')))
  ) {
    throw new Error(`the camera accepted the NTP settings but still reports ${JSON.stringify(after)}: set them on the camera web page (System > Date and time)`);
  }
  const maxSkewMs = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const clock = await readCameraClock(camera);
  return { api, before, after, changes, clock: { ...clock, ok: describeClock(clock, maxSkewMs).ok, maxSkewMs } };
}
