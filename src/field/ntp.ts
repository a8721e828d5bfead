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

export async function setupNtp(camera: VapixClient, servers: string[], opts: { maxSkewMs?: number } = {}): Promise<NtpResult> {
  for (const s of servers) {
    if (!/^[A-Za-z0-9.:-]{1,253}$/.test(s)) throw new Error(`"${s}" is not an NTP server name or address`);
  }
  const { api, config: before } = await readNtp(camera);
  const want: NtpClientConfig = servers.length > 0 ? { enabled: true, serversSource: 'static', staticServers: servers } : { ...before, enabled: true };
  const changes: string[] = [];
  if (!before.enabled) changes.push('NTP client: off -> on');
  if (servers.length > 0) {
    if (before.serversSource !== 'static') changes.push(`server source: ${before.serversSource} -> static`);
    if (before.staticServers.join(',') !== servers.join(',')) {
      changes.push(`servers: ${before.staticServers.join(', ') || '(none)'} -> ${servers.join(', ')}`);
    }
  } else if (before.serversSource === 'static' && before.staticServers.length === 0) {
    throw new Error('the camera has no NTP server and none was given: pass --server, e.g. --server pool.ntp.org');
  }
  if (changes.length > 0) {
    if (api === 'ntp.cgi') await setNtpClient(camera, want);
    else await setNtpParams(camera, want);
  }
  const after = (await readNtp(camera)).config;
  if (changes.length > 0 && (after.enabled !== want.enabled || (servers.length > 0 && after.staticServers.join(',') !== servers.join(',')))) {
    throw new Error(`the camera accepted the NTP settings but still reports ${JSON.stringify(after)}: set them on the camera web page (System > Date and time)`);
  }
  const maxSkewMs = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const clock = await readCameraClock(camera);
  return { api, before, after, changes, clock: { ...clock, ok: describeClock(clock, maxSkewMs).ok, maxSkewMs } };
}
