/**
 * The VAPIX Application API (docs/protocol-vapix.md [VAPIX-apps]): upload.cgi (multipart `packfil`),
 * control.cgi (start|stop|restart|remove) and list.cgi (XML). Axis answers these with `OK` or
 * `Error: N` (HTTP 200); AxisAppError turns N into plain words with the fix, per call, as
 * developer.axis.com/vapix/applications/application-api defines them.
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

/** What a code means and what a technician does about it. */
export interface AppErrorMeaning {
  meaning: string;
  fix: string;
}

const SYSTEM_LOG = "the camera's system log (System > Logs) names the reason";
/** 10 means the same for both calls. */
const UNSPECIFIED: AppErrorMeaning = { meaning: 'the camera failed for an unspecified reason', fix: `${SYSTEM_LOG}; fix that and retry` };

/**
 * upload.cgi's `Error: N`, as developer.axis.com/vapix/applications/application-api lists them
 * ("Upload application", Response, Error). Codes not listed are quoted raw.
 */
export const UPLOAD_ERRORS: Readonly<Record<string, AppErrorMeaning>> = {
  '1': { meaning: 'the file is not an ACAP package (.eap)', fix: 'download or build the .eap again (it may be damaged) and retry' },
  '2': {
    meaning: 'the package signature is missing or invalid (verification failed)',
    fix: 'install the signed .eap as released; a camera on AXIS OS 12 refuses unsigned apps unless "Allow unsigned apps" is on (Apps page)',
  },
  '3': { meaning: 'the package is too large or the camera storage is full', fix: 'remove apps you do not use on the camera (Apps page) to free space, then retry' },
  '5': {
    meaning: 'the package is not compatible with this camera (architecture, hardware or AXIS OS version)',
    fix: `use the .eap for this camera's architecture (cloudcam install picks it by the camera's Architecture) or upgrade AXIS OS; ${SYSTEM_LOG}`,
  },
  '10': UNSPECIFIED,
  '12': { meaning: 'another app upload is in progress on the camera', fix: 'wait until it ends (a minute or two) and retry' },
  '13': { meaning: 'the package needs a user or group the camera does not allow', fix: 'use a package built for this AXIS OS version (no root user)' },
  '14': { meaning: 'an app of the same name with other letter case is installed', fix: 'remove that app on the camera (Apps page), then retry' },
  '15': { meaning: 'the camera timed out and does not know whether the install worked', fix: 'run `cloudcam setup check` to see whether the app is installed; retry if not' },
  '27': { meaning: 'the installed app of this name comes from another vendor ID', fix: 'remove the installed app on the camera (Apps page), then install this one' },
  '29': { meaning: "the package's manifest.json or package.conf is invalid", fix: 'the package is broken: download or build it again' },
};

/**
 * control.cgi's `Error: N` (start, stop, restart, remove), from the same page ("Control
 * application"). 8 is not on the page as read on 2026-01-09; issue 19 reads it as "could not start".
 */
export const CONTROL_ERRORS: Readonly<Record<string, AppErrorMeaning>> = {
  '1': { meaning: 'the installed package or its manifest is invalid', fix: 'reinstall it: cloudcam install --force' },
  '4': { meaning: 'no app with that name is installed', fix: 'install it first: cloudcam install' },
  '6': { meaning: 'the app is already running', fix: 'nothing to do' },
  '7': { meaning: 'the app is not running', fix: 'start it first: cloudcam install (it starts an installed app)' },
  '8': { meaning: 'the app could not be started', fix: "read the app log on the camera (Apps > the app > App log); the camera's system log may say more" },
  '9': { meaning: 'too many apps are running on the camera', fix: 'stop an app you do not need (Apps page) and retry; AXIS OS 12.6 and later have no such limit' },
  '10': UNSPECIFIED,
  '15': { meaning: 'the camera timed out and does not know whether the action worked', fix: 'run `cloudcam setup check` to see the app state; retry if needed' },
};

export class AxisAppError extends Error {
  override readonly name = 'AxisAppError';
  readonly code: string;
  constructor(call: string, code: string, raw: string, meanings: Readonly<Record<string, AppErrorMeaning>> = {}) {
    const known = Object.hasOwn(meanings, code) ? meanings[code] : undefined;
    super(
      known
        ? `camera refused ${call}: ${known.meaning} (reply "${raw}"): ${known.fix}`
        : `camera refused ${call} with "${raw}", a code cloudcam does not know: see Error ${code} on developer.axis.com/vapix/applications/application-api and ${SYSTEM_LOG}`,
    );
    this.code = code;
  }
}

function checkReply(call: string, status: number, body: string, meanings: Readonly<Record<string, AppErrorMeaning>>): void {
  const text = body.trim();
  if (status === 200 && /^OK\b/.test(text)) return;
  const m = /Error:\s*(\d+)/.exec(text);
  if (m) throw new AxisAppError(call, m[1] ?? '', text.slice(0, 200), meanings);
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
  checkReply(`the upload of ${fileName}`, res.status, res.body.toString('utf8'), UPLOAD_ERRORS);
}

export async function controlApp(camera: VapixClient, action: 'start' | 'stop' | 'restart' | 'remove', pkg: string): Promise<void> {
  const path = `/axis-cgi/applications/control.cgi?action=${action}&package=${encodeURIComponent(pkg)}`;
  const res = await camera.call('GET', path, { timeoutMs: 60_000 });
  checkReply(`control.cgi ${action} of ${pkg}`, res.status, res.body.toString('utf8'), CONTROL_ERRORS);
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
