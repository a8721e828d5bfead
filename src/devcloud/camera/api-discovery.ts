import { EVENT_STREAMING_API } from '../../protocol/vapix/discovery.js';

/**
 * The simulator's `POST /axis-cgi/apidiscovery.cgi` (developer.axis.com/vapix/network-video/
 * api-discovery-service): `getApiList` lists the JSON APIs this simulated firmware has,
 * `getSupportedVersions` the service's own versions; other methods get Axis's "method not supported"
 * error. `event-streaming-over-websocket` is listed only when the firmware has it (AXIS OS 10 does
 * not: the profile turns it off).
 */
const DOC_LINK = 'https://www.axis.com/vapix-library/';

export function apiList(opts: { eventStreamingOverWebsocket: boolean; ntpApi: boolean }): { id: string; version: string; name: string; docLink: string }[] {
  const apis: [string, string, string][] = [
    ['api-discovery', '1.0', 'API Discovery Service'],
    ['basic-device-info', '1.1', 'Basic Device Information'],
    ['param-cgi', '1.0', 'Legacy Parameter Handling'],
    ['time-service', '1.0', 'Time API'],
  ];
  if (opts.ntpApi) apis.push(['ntp', '1.1', 'NTP']);
  if (opts.eventStreamingOverWebsocket) apis.push([EVENT_STREAMING_API, '1.0', 'Event streaming over WebSocket']);
  return apis.map(([id, version, name]) => ({ id, version, name, docLink: DOC_LINK }));
}

/** The reply to one request body (undefined: no body). */
export function apiDiscoveryReply(body: Buffer | undefined, opts: { eventStreamingOverWebsocket: boolean; ntpApi: boolean }): unknown {
  let m: { apiVersion?: unknown; context?: unknown; method?: unknown } = {};
  try {
    m = JSON.parse(body?.toString('utf8') ?? '') as typeof m;
  } catch {
    return { apiVersion: '1.0', error: { code: 4000, message: 'Invalid JSON' } };
  }
  const context = typeof m.context === 'string' ? m.context : undefined;
  switch (m.method) {
    case 'getApiList':
      return { apiVersion: '1.0', context, method: 'getApiList', data: { apiList: apiList(opts) } };
    case 'getSupportedVersions':
      return { context, method: 'getSupportedVersions', data: { apiVersions: ['1.0'] } };
    default:
      return { apiVersion: '1.0', context, error: { code: 2002, message: 'The requested method is not supported' } };
  }
}
