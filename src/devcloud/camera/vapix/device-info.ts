/**
 * /axis-cgi/basicdeviceinfo.cgi (VAPIX Basic device information API): the camera's properties, all
 * of them to an authenticated user or the unrestricted ones, in its {apiVersion, context, data|error}
 * envelope.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BUILD_DATE, type CameraState } from '../state.js';
import type { CameraIdentity } from '../types.js';
import { json, readBody, text } from './reply.js';

const UNRESTRICTED = new Set(['Brand', 'BuildDate', 'HardwareID', 'ProdFullName', 'ProdNbr', 'ProdShortName', 'ProdType', 'ProdVariant', 'SerialNumber', 'Version', 'WebURL']);

function deviceProperties(identity: CameraIdentity): Record<string, string> {
  return {
    Architecture: identity.architecture,
    Brand: 'AXIS',
    BuildDate: BUILD_DATE,
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
}

export async function basicDeviceInfo(cam: CameraState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const properties = deviceProperties(cam.identity);
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