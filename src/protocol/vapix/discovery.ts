/**
 * VAPIX API discovery (developer.axis.com/vapix/network-video/api-discovery-service, id
 * `api-discovery`): `POST /axis-cgi/apidiscovery.cgi` with
 *   {"apiVersion":"1.0","context":"cloudcam","method":"getApiList"}
 * answers {"apiVersion":"1.0","context":"cloudcam","method":"getApiList","data":{"apiList":[
 *   {"id":"event-streaming-over-websocket","version":"1.0","name":"...","docLink":"..."}, ...]}}
 * (or `"error":{code,message}`). Firmware older than the service (before AXIS OS 5.x-era JSON APIs)
 * answers 404. What a client may rely on is the list of ids: an API missing from it is not there,
 * whatever a path answers (reply shapes cross-checked with Kane610/axis's recorded replies).
 */
export const API_DISCOVERY_PATH = '/axis-cgi/apidiscovery.cgi';
export const EVENT_STREAMING_API = 'event-streaming-over-websocket';
const MAX_APIS = 512;

export interface DiscoveredApi {
  id: string;
  version: string;
}

/** The camera's API list, or why it could not be read. `missing`: firmware without API discovery (404). */
export type ApiListResult = { ok: true; apis: DiscoveredApi[] } | { ok: false; missing: boolean; why: string };

/** What discovery needs from a VAPIX client (VapixClient.call): the status is returned, not judged. */
export interface VapixCaller {
  call(method: 'GET' | 'POST', path: string, opts: { body?: string; contentType?: string; maxBytes?: number }): Promise<{ status: number; body: Buffer }>;
}

export function apiListRequest(): string {
  return JSON.stringify({ apiVersion: '1.0', context: 'cloudcam', method: 'getApiList' });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a getApiList reply; entries of another shape are left out, never thrown. */
export function parseApiList(text: string): ApiListResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, missing: false, why: 'the API discovery reply is not JSON' };
  }
  if (!isObject(doc)) return { ok: false, missing: false, why: 'the API discovery reply is not a JSON object' };
  const error = doc['error'];
  if (error !== undefined) {
    const e = isObject(error) ? error : {};
    return { ok: false, missing: false, why: `API discovery refused: error ${String(e['code'])} ${typeof e['message'] === 'string' ? e['message'].slice(0, 200) : ''}`.trim() };
  }
  const data = doc['data'];
  const list = isObject(data) ? data['apiList'] : undefined;
  if (!Array.isArray(list)) return { ok: false, missing: false, why: 'the API discovery reply has no data.apiList' };
  const apis: DiscoveredApi[] = [];
  for (const item of list.slice(0, MAX_APIS)) {
    if (isObject(item) && typeof item['id'] === 'string') apis.push({ id: item['id'].slice(0, 100), version: typeof item['version'] === 'string' ? item['version'].slice(0, 20) : '' });
  }
  return { ok: true, apis };
}

/** Asks the camera which APIs it has. Network and auth errors are thrown (VapixError), as for any call. */
export async function discoverApis(camera: VapixCaller): Promise<ApiListResult> {
  const res = await camera.call('POST', API_DISCOVERY_PATH, { body: apiListRequest(), contentType: 'application/json', maxBytes: 256 * 1024 });
  if (res.status === 404) return { ok: false, missing: true, why: `the camera has no ${API_DISCOVERY_PATH} (firmware older than API discovery)` };
  if (res.status !== 200) return { ok: false, missing: false, why: `the camera answered ${API_DISCOVERY_PATH} with HTTP ${res.status}` };
  return parseApiList(res.body.toString('utf8'));
}

export function hasApi(result: ApiListResult, id: string): boolean {
  return result.ok && result.apis.some((a) => a.id === id);
}
