/**
 * Camera time over VAPIX: the NTP API (ntp.cgi, JSON, AXIS OS 9.10+), its param.cgi fallback
 * (Time.NTP.Server, Time.SyncSource, Time.ObtainFromDHCP, Time.NTP.VolatileServer) for older
 * firmware, and the camera clock (time.cgi getDateTimeInfo, else the HTTP Date header). Sources:
 * docs/protocol-vapix.md [VAPIX-ntp].
 *
 * What real cameras send (recorded replies, not only the documentation): `Time.NTP.Server=0.0.0.0`
 * when no server is set (Kane610/axis tests/test_param_cgi.py), several servers separated by spaces
 * on AXIS OS 12, and the server DHCP handed out in the read-only `Time.NTP.VolatileServer`.
 */
import type { VapixClient } from './client.js';

export interface NtpClientConfig {
  enabled: boolean;
  /** 'static': staticServers are used; 'DHCP': servers come from the DHCP server. */
  serversSource: 'static' | 'DHCP';
  staticServers: string[];
  /** The servers DHCP handed out (ntp.cgi advertisedServers, param.cgi Time.NTP.VolatileServer); used when serversSource is DHCP. */
  dhcpServers: string[];
  /** Only the NTP API reports it. */
  synced?: boolean;
}

/**
 * A server list as cameras write it: comma- or space-separated; empty and `0.0.0.0` (what a camera
 * lists when nothing is set) are no server.
 */
export function ntpServerList(raw: string | readonly unknown[] | undefined): string[] {
  const items = Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? raw.split(/[\s,]+/) : [];
  return items.map((s) => s.trim()).filter((s) => s !== '' && s !== '0.0.0.0' && s !== '::');
}

/** The NTP API is missing (older firmware): the caller falls back to param.cgi. */
export class NoNtpApi extends Error {
  override readonly name = 'NoNtpApi';
}

interface JsonReply {
  error?: { code?: unknown; message?: unknown };
  data?: Record<string, unknown>;
}

async function jsonCall(camera: VapixClient, path: string, method: string, params?: unknown): Promise<Record<string, unknown>> {
  const res = await camera.call('POST', path, { body: JSON.stringify({ apiVersion: '1.0', context: 'cloudcam', method, ...(params === undefined ? {} : { params }) }) });
  if (res.status === 404) throw new NoNtpApi(`camera has no ${path}`);
  if (res.status !== 200) throw new Error(`camera answered ${path} ${method} with HTTP ${res.status}`);
  let reply: JsonReply;
  try {
    reply = JSON.parse(res.body.toString('utf8')) as JsonReply;
  } catch {
    throw new Error(`camera answered ${path} ${method} with invalid JSON`);
  }
  if (reply.error) throw new Error(`camera refused ${path} ${method}: error ${String(reply.error.code)} ${String(reply.error.message)}`);
  return reply.data ?? {};
}

export async function getNtpClient(camera: VapixClient): Promise<NtpClientConfig> {
  const data = await jsonCall(camera, '/axis-cgi/ntp.cgi', 'getNTPInfo');
  const c = (data['client'] ?? {}) as Record<string, unknown>;
  if (typeof c['enabled'] !== 'boolean') throw new NoNtpApi('ntp.cgi getNTPInfo has no client section');
  return {
    enabled: c['enabled'],
    serversSource: c['serversSource'] === 'DHCP' ? 'DHCP' : 'static',
    staticServers: ntpServerList(Array.isArray(c['staticServers']) ? c['staticServers'] : undefined),
    dhcpServers: ntpServerList(Array.isArray(c['advertisedServers']) ? c['advertisedServers'] : undefined),
    ...(typeof c['synced'] === 'boolean' ? { synced: c['synced'] } : {}),
  };
}

export async function setNtpClient(camera: VapixClient, cfg: Pick<NtpClientConfig, 'enabled' | 'serversSource' | 'staticServers'>): Promise<void> {
  await jsonCall(camera, '/axis-cgi/ntp.cgi', 'setNTPClientConfiguration', {
    enabled: cfg.enabled,
    serversSource: cfg.serversSource,
    staticServers: cfg.staticServers,
  });
}

/** The same view from param.cgi on firmware without ntp.cgi. */
export async function getNtpParams(camera: VapixClient): Promise<NtpClientConfig> {
  const p = await camera.listParams('Time');
  return {
    enabled: (p['Time.SyncSource'] ?? 'NTP') === 'NTP',
    serversSource: p['Time.ObtainFromDHCP'] === 'yes' ? 'DHCP' : 'static',
    staticServers: ntpServerList(p['Time.NTP.Server']),
    dhcpServers: ntpServerList(p['Time.NTP.VolatileServer']),
  };
}

/** Writes the param.cgi view; the server list only when there is one (a camera may refuse an empty one). */
export async function setNtpParams(camera: VapixClient, cfg: Pick<NtpClientConfig, 'enabled' | 'serversSource' | 'staticServers'>): Promise<void> {
  await camera.updateParams({
    'Time.SyncSource': cfg.enabled ? 'NTP' : 'None',
    'Time.ObtainFromDHCP': cfg.serversSource === 'DHCP' ? 'yes' : 'no',
    ...(cfg.staticServers.length > 0 ? { 'Time.NTP.Server': cfg.staticServers.join(',') } : {}),
  });
}

/** The servers the camera uses now: DHCP's or the static ones, as the source says. */
export function serversInUse(cfg: NtpClientConfig): string[] {
  return cfg.serversSource === 'DHCP' ? cfg.dhcpServers : cfg.staticServers;
}

export interface CameraClock {
  /** Camera time minus local time, corrected by half the round trip. */
  offsetMs: number;
  /** Half the round trip plus the source's resolution: how far offsetMs can be wrong. */
  uncertaintyMs: number;
  source: 'time.cgi' | 'Date header';
}

/** Reads the camera clock with time.cgi getDateTimeInfo, or the Date header of any reply. */
export async function readCameraClock(camera: VapixClient): Promise<CameraClock> {
  const t0 = Date.now();
  const res = await camera.call('POST', '/axis-cgi/time.cgi', {
    body: JSON.stringify({ apiVersion: '1.0', context: 'cloudcam', method: 'getDateTimeInfo' }),
  });
  const t1 = Date.now();
  const mid = (t0 + t1) / 2;
  const half = (t1 - t0) / 2;
  if (res.status === 200) {
    try {
      const reply = JSON.parse(res.body.toString('utf8')) as JsonReply;
      const dateTime = reply.data?.['dateTime'];
      const at = typeof dateTime === 'string' ? Date.parse(dateTime) : NaN;
      // dateTime has whole seconds: up to 1 s of resolution.
      if (Number.isFinite(at)) return { offsetMs: Math.round(at + 500 - mid), uncertaintyMs: Math.ceil(half + 500), source: 'time.cgi' };
    } catch {
      // fall through to the Date header
    }
  }
  const date = Date.parse(res.headers['date'] ?? '');
  if (!Number.isFinite(date)) throw new Error(`camera at ${camera.origin} tells its time neither through time.cgi nor a Date header`);
  return { offsetMs: Math.round(date + 500 - mid), uncertaintyMs: Math.ceil(half + 500), source: 'Date header' };
}
