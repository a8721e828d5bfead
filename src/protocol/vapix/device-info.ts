/**
 * VAPIX Basic device information API: POST /axis-cgi/basicdeviceinfo.cgi, JSON, method
 * getAllProperties (AXIS OS 8.40+; docs/protocol-vapix.md [VAPIX-basicdeviceinfo]): SerialNumber,
 * ProdNbr, Architecture, Soc, Version ... in data.propertyList.
 */
import type { VapixClient } from './client.js';
import { VapixError, excerpt } from './errors.js';

const PATH = '/axis-cgi/basicdeviceinfo.cgi';

/** The property list of a getAllProperties reply, every value as a string; a VapixError names what is wrong. */
export function parseDeviceInfoReply(raw: Buffer): Record<string, string> {
  let msg: unknown;
  try {
    msg = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new VapixError('http', `camera answered ${PATH} with invalid JSON (${excerpt(raw)}): is it an Axis camera with AXIS OS 8.40 or later?`, { status: 200 });
  }
  const m = msg as { error?: { code?: unknown; message?: unknown }; data?: { propertyList?: unknown } } | null;
  if (m?.error) {
    throw new VapixError('http', `camera refused ${PATH} getAllProperties: error ${String(m.error.code)} ${String(m.error.message)}`, { status: 200 });
  }
  const list = m?.data?.propertyList;
  if (typeof list !== 'object' || list === null || Array.isArray(list)) {
    throw new VapixError('http', `camera answered ${PATH} without data.propertyList (${excerpt(raw)})`, { status: 200 });
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(list as Record<string, unknown>)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  }
  return out;
}

export async function basicDeviceInfo(camera: VapixClient): Promise<Record<string, string>> {
  const body = JSON.stringify({ apiVersion: '1.0', context: 'cloudcam', method: 'getAllProperties' });
  const reply = await camera.call200('POST', PATH, { body });
  return parseDeviceInfoReply(reply.body);
}
