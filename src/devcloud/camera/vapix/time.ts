/**
 * ntp.cgi and time.cgi: the JSON APIs of the camera's clock, in the envelope VAPIX's JSON APIs share.
 * Absent (404) on firmware older than AXIS OS 9.10 (the router checks `ntpApi`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ntpServerList } from '../../../protocol/vapix/time.js';
import type { CameraState } from '../state.js';
import { json, readBody } from './reply.js';

export type JsonMethods = Record<string, (params: Record<string, unknown>) => unknown>;

/** JSON APIs (ntp.cgi, time.cgi) share one envelope: {apiVersion, context, method, data|error}. */
export async function jsonApi(
  req: IncomingMessage,
  res: ServerResponse,
  methods: JsonMethods,
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

function ntpClient(cam: CameraState): Record<string, unknown> {
  const { params, clockOffsetMs } = cam;
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

/** ntp.cgi (VAPIX NTP API), over param.cgi's Time group. */
export const ntpMethods = (cam: CameraState): JsonMethods => ({
  getNTPInfo: () => ({ client: ntpClient(cam) }),
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
    if (updates.length > 0 && cam.params.update(updates) !== 'OK\n') throw new Error('invalid NTP configuration');
    return {};
  },
});

/** time.cgi (VAPIX Time API): the camera's own clock. */
export const timeMethods = (cam: CameraState): JsonMethods => ({
  getDateTimeInfo: () => {
    const now = cam.now();
    return {
      dateTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      localDateTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      timeZone: 'Etc/UTC',
      posixTimeZone: cam.params.get('Time.POSIXTimeZone') ?? 'UTC0',
      dstEnabled: cam.params.get('Time.DST.Enabled') === 'yes',
    };
  },
});
