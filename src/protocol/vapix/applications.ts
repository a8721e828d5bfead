/**
 * The VAPIX Application API (docs/protocol-vapix.md [VAPIX-apps]): upload.cgi (multipart `packfil`),
 * control.cgi (start|stop|restart|remove) and list.cgi (XML). Axis answers these with `OK` or
 * `Error: N`; AxisAppError turns N into plain words with the fix.
 */
import { randomBytes } from 'node:crypto';
import type { VapixClient } from './client.js';

export interface InstalledApp {
  name: string;
  niceName: string;
  vendor: string;
  version: string;
  /** Running | Stopped | Idle (as list.cgi says) */
  status: string;
  license: string;
}

/**
 * Meanings of the `Error: N` replies of upload.cgi and control.cgi as cloudcam presents them. The
 * Axis page we could read (docs/protocol-vapix.md) names the reply form but not every number; each
 * message therefore also quotes the raw reply so a code we do not know is never hidden.
 */
export const APP_ERRORS: Record<string, { meaning: string; fix: string }> = {
  '1': { meaning: 'the camera could not read the package (not a valid .eap, or damaged in transfer)', fix: 'rebuild or download the .eap again and retry' },
  '2': { meaning: 'the package is larger than the camera accepts or there is not enough free space', fix: 'remove applications you do not use (cloudcam install lists them) and retry' },
  '4': { meaning: 'no application with that name is installed', fix: 'install it first with `cloudcam install`' },
  '6': { meaning: 'the application is already running', fix: 'nothing to do' },
  '7': { meaning: 'the application is not running', fix: 'start it with `cloudcam install --force` or from the camera web page' },
  '10': { meaning: 'the package was built for another architecture or a newer AXIS OS than this camera runs', fix: 'pick the .eap for the camera architecture (`cloudcam install --arch auto`) or upgrade AXIS OS' },
};

export class AxisAppError extends Error {
  override readonly name = 'AxisAppError';
  readonly code: string;
  constructor(call: string, code: string, raw: string) {
    const known = APP_ERRORS[code];
    super(
      known
        ? `camera refused ${call}: ${known.meaning} (reply "${raw}"): ${known.fix}`
        : `camera refused ${call} with "${raw}", a code cloudcam does not know: see the Application API page of VAPIX for Error ${code}`,
    );
    this.code = code;
  }
}

function checkReply(call: string, status: number, body: string): void {
  const text = body.trim();
  if (status === 200 && /^OK\b/.test(text)) return;
  const m = /Error:\s*(\d+)/.exec(text);
  if (m) throw new AxisAppError(call, m[1] ?? '', text.slice(0, 200));
  throw new Error(`camera answered ${call} with HTTP ${status} "${text.slice(0, 200)}" instead of OK: is the Application API available (AXIS OS with ACAP support)?`);
}

/** POST upload.cgi with the package as multipart `packfil`. Sends nothing until digest auth is set up. */
export async function uploadApp(
  camera: VapixClient,
  eap: Buffer,
  fileName: string,
  opts: { onProgress?: (sent: number, total: number) => void; timeoutMs?: number } = {},
): Promise<void> {
  // A cheap authenticated call first, so the big POST carries Authorization and is sent once.
  await listApps(camera);
  const boundary = `cloudcam${randomBytes(12).toString('hex')}`;
  const safeName = fileName.replace(/["\r\n\\]/g, '_');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="packfil"; filename="${safeName}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const res = await camera.call('POST', '/axis-cgi/applications/upload.cgi', {
    body: Buffer.concat([head, eap, tail]),
    contentType: `multipart/form-data; boundary=${boundary}`,
    timeoutMs: opts.timeoutMs ?? 300_000,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  checkReply(`the upload of ${fileName}`, res.status, res.body.toString('utf8'));
}

export async function controlApp(camera: VapixClient, action: 'start' | 'stop' | 'restart' | 'remove', pkg: string): Promise<void> {
  const path = `/axis-cgi/applications/control.cgi?action=${action}&package=${encodeURIComponent(pkg)}`;
  const res = await camera.call('GET', path, { timeoutMs: 60_000 });
  checkReply(`control.cgi ${action} of ${pkg}`, res.status, res.body.toString('utf8'));
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([A-Za-z]+)="([^"]*)"/g)) out[m[1] ?? ''] = decodeXml(m[2] ?? '');
  return out;
}

function decodeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e] ?? '');
}

/** Parses list.cgi's `<reply result="ok"><application Name=".." .../></reply>`. */
export function parseAppList(xml: string): InstalledApp[] {
  const reply = /<reply\b([^>]*)>/.exec(xml);
  if (!reply) throw new Error(`list.cgi reply is not the Application API XML: "${xml.slice(0, 120)}"`);
  const result = attributes(reply[1] ?? '')['result'];
  if (result !== 'ok') {
    const type = /<error\b[^>]*type="([^"]*)"/.exec(xml)?.[1] ?? '?';
    throw new AxisAppError('list.cgi', type, xml.trim().slice(0, 200));
  }
  return [...xml.matchAll(/<application\b([^>]*)\/?>/g)].map((m) => {
    const a = attributes(m[1] ?? '');
    return { name: a['Name'] ?? '', niceName: a['NiceName'] ?? '', vendor: a['Vendor'] ?? '', version: a['Version'] ?? '', status: a['Status'] ?? '', license: a['License'] ?? '' };
  });
}

export async function listApps(camera: VapixClient): Promise<InstalledApp[]> {
  const res = await camera.call('GET', '/axis-cgi/applications/list.cgi');
  if (res.status !== 200) {
    throw new Error(`camera answered list.cgi with HTTP ${res.status}: it has no Application API (needs ACAP support, Properties.EmbeddedDevelopment.Version >= 1.20)`);
  }
  return parseAppList(res.body.toString('utf8'));
}
