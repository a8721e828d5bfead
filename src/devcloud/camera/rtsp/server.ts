/**
 * The simulated camera's RTSP server, as Axis cameras serve `/axis-media/media.amp` (Axis's video
 * streaming pages; VAPIX RTSP API): OPTIONS, DESCRIBE (SDP), SETUP with RTP interleaved on the RTSP
 * connection, PLAY, GET_PARAMETER keep-alive, SET_PARAMETER `Renew-Stream: yes`, TEARDOWN, and a
 * session timeout (RFC 2326 §12.37; RFC 7826 §18.49). Authentication through the same verifier as
 * the camera's HTTP side (Digest, or Basic where configured), on every method but OPTIONS.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Logger } from '../../../lib/log.js';
import type { DigestVerifier } from '../../../protocol/digest.js';
import { RtspError } from '../../../protocol/rtsp/errors.js';
import { RtspStreamParser, header, interleavedFrame, serializeMessage, type RtspMessage, type RtspRequest } from '../../../protocol/rtsp/message.js';
import type { StreamFormat } from '../h264/parameter-sets.js';
import type { AccessUnit, H264Source } from '../h264/source.js';
import { RtpPacketizer } from './packetizer.js';
import { TRACK_CONTROL, describeSdp } from './sdp.js';
import { formatFromQuery, MEDIA_PATH } from './stream-url.js';

export interface RtspServerOptions {
  host: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** Who may watch; absent: nobody needs to authenticate. */
  auth?: DigestVerifier;
  /** The live source for a format (sources are shared: the provider should cache them). */
  source: (format: StreamFormat) => Promise<H264Source>;
  log?: Logger;
  /** Seconds a session lives without a request (the Session header's timeout). Default 60. */
  sessionTimeoutS?: number;
  /** Most sessions at once; the next SETUP gets 453 Not Enough Bandwidth. Default 16. */
  maxSessions?: number;
  /** Bytes queued for a slow client before frames are dropped until the next keyframe. Default 8 MiB. */
  maxQueuedBytes?: number;
  /** The camera's resolutions (Properties.Image.Resolution); asking for another gets 400 naming it. Default: any. */
  resolutions?: readonly string[];
}

export interface RtspServer {
  readonly port: number;
  /** rtsp://host:port/axis-media/media.amp?videocodec=h264 */
  readonly url: string;
  /** Sessions set up and not torn down or timed out. */
  readonly sessions: number;
  /**
   * Resolves with the session count once `predicate` holds for it (at once if it holds now); rejects
   * after `timeoutMs` naming the count it saw, so a test waits on the event instead of polling.
   */
  untilSessions(predicate: (count: number) => boolean, timeoutMs: number): Promise<number>;
  close(): Promise<void>;
}

interface Session {
  id: string;
  format: StreamFormat;
  source: H264Source;
  packetizer: RtpPacketizer;
  channel: number;
  lastSeen: number;
  unsubscribe?: () => void;
  waitingForKeyframe: boolean;
}

const PUBLIC = 'OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER, SET_PARAMETER';
/** What a client may send the camera: small requests only. */
const SERVER_LIMITS = { maxLineBytes: 4096, maxHeaders: 64, maxBodyBytes: 4096, maxFrameBytes: 65535 };

export async function startRtspServer(opts: RtspServerOptions): Promise<RtspServer> {
  const timeoutS = opts.sessionTimeoutS ?? 60;
  const maxSessions = opts.maxSessions ?? 16;
  const maxQueued = opts.maxQueuedBytes ?? 8 * 1024 * 1024;
  const sessions = new Map<string, Session>();
  const sockets = new Set<net.Socket>();
  const log = opts.log?.child({ component: 'rtsp' });
  const formatOf = (q: URLSearchParams): StreamFormat | { problem: string } => {
    const format = formatFromQuery(q);
    // The default stream (no resolution= asked) is DEFAULT_FORMAT whatever the still resolutions are.
    if ('problem' in format || !opts.resolutions || !q.has('resolution') || opts.resolutions.includes(`${format.width}x${format.height}`)) return format;
    return { problem: `resolution=${format.width}x${format.height} is not one of this camera's; see Properties.Image.Resolution` };
  };
  const waiters = new Set<() => void>();
  const sessionsChanged = (): void => {
    for (const w of [...waiters]) w();
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const own = new Set<string>(); // this connection's sessions
    let described: StreamFormat | undefined;
    let chain = Promise.resolve();
    const end = (why: string) => {
      for (const id of own) stopSession(id, why);
      own.clear();
      socket.destroy();
    };
    const parser = new RtspStreamParser(
      SERVER_LIMITS,
      (m) => {
        chain = chain.then(() => handle(m)).catch((e: unknown) => {
          log?.error({ err: e }, 'rtsp request failed');
          end('internal error');
        });
      },
      () => undefined, // RTCP receiver reports: not used
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (e) {
        const msg = e instanceof RtspError ? e.message : String(e);
        log?.debug({ err: msg }, 'malformed rtsp request');
        socket.end(serializeMessage('RTSP/1.0 400 Bad Request', []));
        end('malformed request');
      }
    });
    socket.on('error', () => end('connection error'));
    socket.on('close', () => {
      sockets.delete(socket);
      end('connection closed');
    });

    function reply(cseq: string, status: string, headers: [string, string | number][] = [], body?: string): void {
      if (!socket.destroyed) socket.write(serializeMessage(`RTSP/1.0 ${status}`, [['CSeq', cseq], ['Server', 'cloudcam camera simulator'], ...headers], body));
    }

    async function handle(m: RtspMessage): Promise<void> {
      if (m.type !== 'request') return; // responses to nothing we asked: ignored
      const cseq = header(m.headers, 'cseq');
      if (cseq === undefined || !/^\d{1,10}$/.test(cseq)) {
        socket.write(serializeMessage('RTSP/1.0 400 Bad Request', []));
        return;
      }
      let url: URL | undefined;
      try {
        url = m.uri === '*' ? undefined : new URL(m.uri);
      } catch {
        return reply(cseq, '400 Bad Request');
      }
      if (url && url.protocol !== 'rtsp:') return reply(cseq, '400 Bad Request');
      if (m.method === 'OPTIONS') return reply(cseq, '200 OK', [['Public', PUBLIC]]);
      if (opts.auth) {
        const verdict = opts.auth.verify(header(m.headers, 'authorization'), m.method, m.uri);
        if (!verdict.ok) {
          log?.debug({ method: m.method }, 'rtsp request refused: authentication');
          return reply(cseq, '401 Unauthorized', opts.auth.challenges(verdict.stale).map((c) => ['WWW-Authenticate', c] as [string, string]));
        }
      }
      const sessionId = header(m.headers, 'session')?.split(';')[0]?.trim();
      const session = sessionId === undefined ? undefined : sessions.get(sessionId);
      if (sessionId !== undefined && (!session || !own.has(sessionId))) return reply(cseq, '454 Session Not Found');
      if (session) session.lastSeen = Date.now();
      switch (m.method) {
        case 'DESCRIBE':
          return describe(cseq, m, url);
        case 'SETUP':
          return setup(cseq, m, url, session);
        case 'PLAY':
          return play(cseq, url, session);
        case 'GET_PARAMETER':
          return reply(cseq, '200 OK', session ? [['Session', session.id]] : []);
        case 'SET_PARAMETER':
          return setParameter(cseq, m, session);
        case 'TEARDOWN':
          if (!session) return reply(cseq, '454 Session Not Found');
          stopSession(session.id, 'teardown');
          own.delete(session.id);
          return reply(cseq, '200 OK');
        default:
          return reply(cseq, '501 Not Implemented', [['Public', PUBLIC]]);
      }
    }

    async function describe(cseq: string, m: RtspRequest, url: URL | undefined): Promise<void> {
      if (!url || url.pathname !== MEDIA_PATH) return reply(cseq, '404 Not Found');
      const format = formatOf(url.searchParams);
      if ('problem' in format) return reply(cseq, '400 Bad Request', [], `${format.problem}\r\n`);
      if (!/application\/sdp|^\*\/\*|^$/.test(header(m.headers, 'accept') ?? '')) return reply(cseq, '406 Not Acceptable');
      const source = await opts.source(format);
      described = format;
      const base = `rtsp://${url.host}${MEDIA_PATH}/`;
      reply(cseq, '200 OK', [['Content-Type', 'application/sdp'], ['Content-Base', base]], describeSdp(source, socket.localAddress ?? '127.0.0.1', Date.now()));
    }

    async function setup(cseq: string, m: RtspRequest, url: URL | undefined, existing: Session | undefined): Promise<void> {
      if (!url || url.pathname !== `${MEDIA_PATH}/${TRACK_CONTROL}`) return reply(cseq, '404 Not Found');
      if (existing) return reply(cseq, '459 Aggregate Operation Not Allowed'); // one track: nothing to add
      const transport = header(m.headers, 'transport') ?? '';
      const im = /interleaved=(\d{1,3})-(\d{1,3})/.exec(transport);
      if (!/^RTP\/AVP\/TCP/i.test(transport) || !im || Number(im[1]) > 254) {
        // This simulator streams over the RTSP connection only (what the agent asks for).
        return reply(cseq, '461 Unsupported Transport');
      }
      if (sessions.size >= maxSessions) return reply(cseq, '453 Not Enough Bandwidth');
      const query = url.searchParams.size > 0 ? formatOf(url.searchParams) : described;
      if (!query) return reply(cseq, '455 Method Not Valid in This State'); // SETUP before DESCRIBE, no format in the URL
      if ('problem' in query) return reply(cseq, '400 Bad Request', [], `${query.problem}\r\n`);
      const source = await opts.source(query);
      const packetizer = new RtpPacketizer();
      const channel = Number(im[1]);
      const id = randomBytes(8).toString('hex');
      sessions.set(id, { id, format: query, source, packetizer, channel, lastSeen: Date.now(), waitingForKeyframe: true });
      own.add(id);
      sessionsChanged();
      log?.info({ session: id, format: query }, 'rtsp session set up');
      const ssrc = packetizer.ssrc.toString(16).toUpperCase().padStart(8, '0');
      reply(cseq, '200 OK', [
        ['Session', `${id};timeout=${timeoutS}`],
        ['Transport', `RTP/AVP/TCP;unicast;interleaved=${channel}-${channel + 1};ssrc=${ssrc};mode="PLAY"`],
      ]);
    }

    function play(cseq: string, url: URL | undefined, session: Session | undefined): void {
      if (!session) return reply(cseq, '454 Session Not Found');
      if (!url) return reply(cseq, '400 Bad Request');
      if (!session.unsubscribe) {
        session.waitingForKeyframe = true;
        session.unsubscribe = session.source.subscribe((au) => forward(session, au));
        session.source.requestKeyframe(); // a new viewer starts with a picture, not a wait for the next IDR
        log?.info({ session: session.id }, 'rtsp session playing');
      }
      reply(cseq, '200 OK', [
        ['Session', session.id],
        ['Range', 'npt=now-'],
        ['RTP-Info', `url=rtsp://${url.host}${MEDIA_PATH}/${TRACK_CONTROL};seq=${session.packetizer.nextSequence};rtptime=${session.packetizer.timestamp(Date.now())}`],
      ]);
    }

    function setParameter(cseq: string, m: RtspRequest, session: Session | undefined): void {
      if (!session) return reply(cseq, '454 Session Not Found');
      const params = m.body
        .toString('utf8')
        .split(/\r?\n/)
        .filter((l) => l.trim() !== '');
      const unknown = params.filter((l) => !/^Renew-Stream\s*:\s*yes\s*$/i.test(l));
      if (unknown.length > 0) return reply(cseq, '451 Parameter Not Understood', [['Session', session.id]]);
      if (params.length > 0) {
        session.source.requestKeyframe();
        log?.debug({ session: session.id }, 'rtsp renew-stream: next frame is a keyframe');
      }
      reply(cseq, '200 OK', [['Session', session.id]]);
    }

    function forward(session: Session, au: AccessUnit): void {
      if (socket.destroyed) return;
      if (socket.writableLength > maxQueued) {
        // A client that cannot keep up loses frames until the next keyframe, as a camera does.
        if (!session.waitingForKeyframe) log?.warn({ session: session.id, queued: socket.writableLength }, 'rtsp client too slow: dropping frames until the next keyframe');
        session.waitingForKeyframe = true;
        return;
      }
      if (session.waitingForKeyframe && !au.keyframe) return;
      session.waitingForKeyframe = false;
      for (const p of session.packetizer.packetize(au.nalUnits, au.captureTimeMs)) socket.write(interleavedFrame(session.channel, p));
    }
  });

  function stopSession(id: string, why: string): void {
    const s = sessions.get(id);
    if (!s) return;
    s.unsubscribe?.();
    sessions.delete(id);
    log?.info({ session: id, why }, 'rtsp session ended');
    sessionsChanged();
  }

  // Sessions that saw no request within their timeout end, and so does their connection's stream.
  const reaper = setInterval(() => {
    const now = Date.now();
    for (const s of sessions.values()) if (now - s.lastSeen > timeoutS * 1000) stopSession(s.id, 'session timeout');
  }, Math.min(1000, (timeoutS * 1000) / 4));
  reaper.unref();

  server.maxConnections = maxSessions * 2;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  const hostPart = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `rtsp://${hostPart}:${port}${MEDIA_PATH}?videocodec=h264`;
  log?.info({ url }, 'rtsp server listening');
  return {
    port,
    url,
    get sessions() {
      return sessions.size;
    },
    untilSessions(predicate, timeoutMs) {
      return new Promise<number>((resolve, reject) => {
        const check = (): void => {
          if (!predicate(sessions.size)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(sessions.size);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`RTSP sessions: still ${sessions.size} after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      clearInterval(reaper);
      for (const id of [...sessions.keys()]) stopSession(id, 'server closing');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
