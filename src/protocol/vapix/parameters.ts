/**
 * VAPIX Parameter management: GET /axis-cgi/param.cgi?action=list[&group=...] and
 * ?action=update&X=Y (docs/protocol-vapix.md [VAPIX-params]). A list reply is `root.Group.Name=value`
 * lines; an update reply is `OK`; errors are `# Error: ...` lines in a 200 reply.
 */
import type { VapixClient } from './client.js';
import { VapixError, excerpt } from './errors.js';

/** `root.A.B=v` lines as { 'A.B': 'v' }, the form updateParams takes; `# ...` lines are the camera's errors. */
export function parseParamList(body: string): { params: Record<string, string>; errors: string[] } {
  const params: Record<string, string> = {};
  const errors: string[] = [];
  for (const line of body.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      errors.push(line.replace(/^#\s*/, ''));
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    params[line.slice(0, eq).replace(/^root\./, '')] = line.slice(eq + 1);
  }
  return { params, errors };
}

export async function listParams(camera: VapixClient, group?: string): Promise<Record<string, string>> {
  const path = `/axis-cgi/param.cgi?action=list${group ? `&group=${encodeURIComponent(group)}` : ''}`;
  const { params, errors } = parseParamList((await camera.call200('GET', path)).body.toString('utf8'));
  if (errors.length > 0) {
    throw new VapixError(
      'http',
      `camera refused param.cgi list of group "${group ?? 'root'}": ${errors.join('; ')} (check the group name; the firmware may not have it)`,
      { status: 200 },
    );
  }
  return params;
}

export async function updateParams(camera: VapixClient, values: Record<string, string>): Promise<void> {
  const entries = Object.entries(values);
  if (entries.length === 0) throw new RangeError('updateParams needs at least one parameter, e.g. {"Time.NTP.Server": "pool.ntp.org"}');
  for (const [k] of entries) {
    if (!/^[A-Za-z0-9_.]+$/.test(k)) {
      throw new RangeError(`updateParams: "${k}" is not a parameter name such as Time.NTP.Server`);
    }
  }
  // encodeURIComponent, not URLSearchParams: CGI decoders disagree on '+' for a space.
  const qs = entries.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  const path = `/axis-cgi/param.cgi?action=update&${qs}`;
  const body = (await camera.call200('GET', path)).body.toString('utf8').trim();
  if (body === 'OK') return;
  const errors = body
    .split(/\r?\n/)
    .filter((l) => l.startsWith('#'))
    .map((l) => l.replace(/^#\s*/, ''));
  throw new VapixError(
    'http',
    errors.length > 0
      ? `camera refused param.cgi update: ${errors.join('; ')} (check the parameter names, that they are writable, and the values)`
      : `camera answered param.cgi update with "${excerpt(Buffer.from(body))}" instead of OK`,
    { status: 200 },
  );
}
