/**
 * The agent's live source: one RTSP session with the camera (DESCRIBE, SETUP with RTP interleaved on
 * the RTSP connection, PLAY; RFC 2326 §10, RFC 7826 §13), kept alive with GET_PARAMETER at half the
 * session timeout (RFC 2326 §12.37), `Renew-Stream: yes` for a keyframe (VAPIX video streaming API),
 * TEARDOWN on close. RTP packets reach `onRtp` unchanged, in arrival order.
 */
import { RtspConnection, type RtspConnectionOptions } from './connection.js';
import { RtspError } from './errors.js';
import { header, type RtspResponse } from './message.js';
import { parseRtp, type RtpPacket } from './rtp.js';
import { parseH264Track, type H264Track } from './sdp.js';

export interface RtspStreamOptions extends RtspConnectionOptions {
  /** e.g. rtsp://127.0.0.1/axis-media/media.amp?videocodec=h264 (no credentials in the URL). */
  url: string;
  onRtp: (packet: RtpPacket) => void;
  /** Largest SDP accepted. Default 16 KiB. */
  maxSdpBytes?: number;
  /** The stream counts as dead when no RTP arrives for this long after PLAY. Default 10 s. */
  stallTimeoutMs?: number;
}

export interface RtspStream {
  readonly track: H264Track;
  readonly sessionId: string;
  /** Seconds the camera keeps the session without a request (Session header, default 60). */
  readonly sessionTimeoutS: number;
  /** Asks the camera for a keyframe now (SET_PARAMETER Renew-Stream: yes). */
  requestKeyframe(): Promise<void>;
  /** TEARDOWN (best effort, bounded by the timeout) and close the connection. */
  close(): Promise<void>;
  /** Resolves when the stream ends: undefined after close(), else why it ended. */
  readonly ended: Promise<RtspError | undefined>;
  readonly stats: { packets: number; bytes: number; dropped: number };
}

const DEFAULT_SESSION_TIMEOUT_S = 60;

function expectOk(res: RtspResponse, what: string, host: string): RtspResponse {
  if (res.status >= 200 && res.status < 300) return res;
  throw new RtspError('status', `camera at ${host} answered ${what} with ${res.status} ${res.reason.slice(0, 80)}`, res.status);
}

/** Opens the stream; rejects with an RtspError (and leaves nothing open) when any step fails. */
export async function openRtspStream(opts: RtspStreamOptions): Promise<RtspStream> {
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw new RtspError('protocol', `RTSP URL ${JSON.stringify(opts.url.slice(0, 120))} is not a URL`);
  }
  if (url.username || url.password) throw new RtspError('protocol', 'put the camera credentials in the credential source, not in the RTSP URL (it gets logged)');
  const conn = await RtspConnection.connect(url, opts);
  try {
    return await play(conn, url, opts);
  } catch (e) {
    conn.close();
    throw e instanceof RtspError ? e : new RtspError('protocol', String(e));
  }
}

async function play(conn: RtspConnection, url: URL, opts: RtspStreamOptions): Promise<RtspStream> {
  const host = url.host;
  const request = url.toString();
  const options = await conn.request('OPTIONS', request);
  const publicMethods = (header(options.headers, 'public') ?? '').toUpperCase().split(/\s*,\s*/);

  const describe = expectOk(await conn.request('DESCRIBE', request, [['Accept', 'application/sdp']]), 'DESCRIBE', host);
  const maxSdp = opts.maxSdpBytes ?? 16 * 1024;
  if (describe.body.length > maxSdp) throw new RtspError('limit', `camera's SDP of ${describe.body.length} bytes exceeds the limit of ${maxSdp}`);
  const base = header(describe.headers, 'content-base') ?? header(describe.headers, 'content-location') ?? request;
  const track = parseH264Track(describe.body.toString('utf8'), base);

  const setup = expectOk(await conn.request('SETUP', track.control, [['Transport', 'RTP/AVP/TCP;unicast;interleaved=0-1']]), 'SETUP', host);
  const sessionHeader = header(setup.headers, 'session') ?? '';
  const sm = /^([A-Za-z0-9$\-_.+]{1,128})(?:\s*;\s*timeout\s*=\s*(\d{1,6}))?/.exec(sessionHeader);
  if (!sm) throw new RtspError('protocol', `camera's SETUP answer has no valid Session header (${JSON.stringify(sessionHeader.slice(0, 60))})`);
  const sessionId = sm[1] ?? '';
  const sessionTimeoutS = Math.max(2, Number(sm[2] ?? DEFAULT_SESSION_TIMEOUT_S));
  const transport = header(setup.headers, 'transport') ?? '';
  const im = /interleaved=(\d{1,3})(?:-(\d{1,3}))?/.exec(transport);
  if (!/RTP\/AVP\/TCP/i.test(transport) || !im) throw new RtspError('media', `camera did not accept RTP over the RTSP connection (Transport: ${JSON.stringify(transport.slice(0, 80))})`);
  const rtpChannel = Number(im[1]);

  const stats = { packets: 0, bytes: 0, dropped: 0 };
  const stallMs = opts.stallTimeoutMs ?? 10_000;
  let lastRtp = Date.now();
  conn.onFrame = (channel, payload) => {
    if (channel !== rtpChannel) return; // RTCP from the camera: not needed for forwarding
    let packet: RtpPacket;
    try {
      packet = parseRtp(payload);
    } catch {
      stats.dropped++;
      return;
    }
    if (packet.payloadType !== track.payloadType) {
      stats.dropped++;
      return;
    }
    stats.packets++;
    stats.bytes += payload.length;
    lastRtp = Date.now();
    try {
      opts.onRtp(packet);
    } catch {
      // The consumer's failure is its own; the session carries on.
    }
  };

  const withSession: [string, string][] = [['Session', sessionId]];
  // The aggregate URL as DESCRIBE used it, as ffmpeg and VLC send PLAY to Axis cameras.
  expectOk(await conn.request('PLAY', request, [...withSession, ['Range', 'npt=0.000-']]), 'PLAY', host);
  lastRtp = Date.now();

  let stopping = false;
  const keepAliveMethod = publicMethods.includes('GET_PARAMETER') ? 'GET_PARAMETER' : 'OPTIONS';
  const keepAlive = setInterval(
    () => {
      conn
        .request(keepAliveMethod, request, withSession)
        .then((res) => expectOk(res, `${keepAliveMethod} keep-alive`, host))
        .catch((e: unknown) => failWith(e instanceof RtspError ? e : new RtspError('protocol', String(e))));
    },
    (sessionTimeoutS * 1000) / 2,
  );
  const watchdog = setInterval(() => {
    if (Date.now() - lastRtp > stallMs) failWith(new RtspError('timeout', `no video from the camera at ${host} for ${stallMs} ms`));
  }, Math.max(50, Math.min(1000, stallMs / 4)));
  keepAlive.unref();
  watchdog.unref();

  let stallError: RtspError | undefined;
  function failWith(e: RtspError): void {
    stallError ??= e;
    conn.close();
  }
  const ended = conn.closed.then((e) => {
    clearInterval(keepAlive);
    clearInterval(watchdog);
    return stopping ? undefined : (stallError ?? e);
  });

  return {
    track,
    sessionId,
    sessionTimeoutS,
    ended,
    stats,
    async requestKeyframe() {
      expectOk(await conn.request('SET_PARAMETER', request, [...withSession, ['Content-Type', 'text/parameters']], 'Renew-Stream: yes\r\n'), 'SET_PARAMETER Renew-Stream', host);
    },
    async close() {
      if (stopping) return;
      stopping = true;
      clearInterval(keepAlive);
      clearInterval(watchdog);
      await conn.request('TEARDOWN', request, withSession).catch(() => undefined);
      conn.close();
      await ended;
    },
  };
}
