/**
 * `cloudcam setup check`'s live view line: does the app have its own RTSP account (`cloudcam setup
 * live`), and does the camera accept it? One DESCRIBE of the stream the agent opens, with that account,
 * from this computer (the camera's RTSP server authenticates the same accounts on every address).
 */
import { RtspConnection } from '../protocol/rtsp/connection.js';
import { RtspError } from '../protocol/rtsp/errors.js';
import type { VapixClient } from '../protocol/vapix/client.js';
import type { CheckLine } from './check.js';
import { LIVE_PASSWORD_PARAM, LIVE_USER_PARAM } from './live-account.js';

export const DEFAULT_RTSP_PORT = 554;
const FIX = 'run `cloudcam setup live` (it makes a viewer-only camera account for live view, or resets its password)';

/** undefined when the installed package has no live account parameters (older than live view accounts). */
export async function liveAccountLine(camera: VapixClient, appName: string, rtspPort = DEFAULT_RTSP_PORT, timeoutMs = 10_000): Promise<CheckLine | undefined> {
  let params: Record<string, string>;
  try {
    params = await camera.listParams(appName);
  } catch {
    return undefined;
  }
  const username = params[`${appName}.${LIVE_USER_PARAM}`];
  const password = params[`${appName}.${LIVE_PASSWORD_PARAM}`] ?? '';
  if (username === undefined) return undefined;
  if (username === '') {
    return { name: 'live account', ok: false, detail: 'live view has no RTSP account: on AXIS OS the app\'s service account cannot open the camera stream (401)', fix: FIX };
  }
  const url = new URL(`rtsp://${new URL(camera.origin).hostname}:${rtspPort}/axis-media/media.amp?videocodec=h264`);
  let conn: RtspConnection | undefined;
  try {
    conn = await RtspConnection.connect(url, { credentials: { current: () => Promise.resolve({ username, password }) }, timeoutMs });
    const res = await conn.request('DESCRIBE', url.href, [['Accept', 'application/sdp']]);
    if (res.status !== 200) return { name: 'live account', ok: false, detail: `${username}: the camera answered DESCRIBE with ${res.status}`, fix: FIX };
    return { name: 'live account', ok: true, detail: `${username} opens the camera's RTSP stream (${url.host})` };
  } catch (err) {
    if (err instanceof RtspError && err.refusedUser !== undefined) return { name: 'live account', ok: false, detail: `the camera refused ${username} on RTSP (401)`, fix: FIX };
    return { name: 'live account', ok: false, detail: `cannot check the RTSP account: ${(err as Error).message}`, fix: `check that the camera's RTSP port ${rtspPort} is reachable from here (--rtsp-port)` };
  } finally {
    conn?.close();
  }
}
