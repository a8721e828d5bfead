/**
 * One RTSP connection to a camera over TCP: requests one at a time with CSeq, responses matched and
 * bounded in time, Digest authentication as the camera offers it (RFC 2326 §D.1 / RFC 7826 §19.1
 * reuse HTTP authentication; Axis cameras offer Digest), interleaved frames handed to a callback.
 * Every failure ends the connection with one RtspError; nothing a camera sends can throw past it.
 */
import net from 'node:net';
import { ChallengeAuth, type AuthRefusal } from '../auth-negotiation.js';
import type { DigestCredentials } from '../digest.js';
import { RtspError } from './errors.js';
import { DEFAULT_LIMITS, RtspStreamParser, header, serializeMessage, type RtspLimits, type RtspMessage, type RtspResponse } from './message.js';

/** Where the camera user's credentials come from (a VAPIX credential source fits). */
export interface RtspCredentialSource {
  current(): Promise<DigestCredentials>;
}

export interface RtspConnectionOptions {
  credentials: RtspCredentialSource;
  /** Limit for connecting and for each response. Default 10 s. */
  timeoutMs?: number;
  limits?: Partial<RtspLimits>;
  /**
   * Basic authentication, only when the camera offers nothing else and the host is a loopback address
   * (the same rule as the VAPIX client): over a network it would send the password in clear.
   */
  basicOnLoopback?: boolean;
  userAgent?: string;
}

const LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$|^\[?::1\]?$|^localhost$/i;

export class RtspConnection {
  /** Resolves once, when the connection ends: undefined after close(), else the error that ended it. */
  readonly closed: Promise<RtspError | undefined>;
  private resolveClosed!: (e: RtspError | undefined) => void;
  private ended: RtspError | undefined;
  private isClosed = false;
  private readonly parser: RtspStreamParser;
  private cseq = 0;
  private waiting: { cseq: number; resolve: (r: RtspResponse) => void; reject: (e: RtspError) => void; timer: NodeJS.Timeout } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly auth = new ChallengeAuth();
  private readonly timeoutMs: number;
  onFrame: (channel: number, payload: Buffer) => void = () => undefined;

  private constructor(
    private readonly socket: net.Socket,
    readonly url: URL,
    private readonly opts: RtspConnectionOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.parser = new RtspStreamParser({ ...DEFAULT_LIMITS, ...opts.limits }, (m) => this.onMessage(m), (c, p) => this.onFrame(c, p));
    socket.on('data', (chunk: Buffer) => {
      try {
        this.parser.push(chunk);
      } catch (e) {
        this.fail(e instanceof RtspError ? e : new RtspError('protocol', `camera stream: ${String(e)}`));
      }
    });
    socket.on('error', (e) => this.fail(new RtspError('connect', `RTSP connection to ${url.host}: ${e.message}`)));
    socket.on('close', () => this.fail(new RtspError('connect', `camera at ${url.host} closed the RTSP connection`)));
  }

  static connect(url: URL, opts: RtspConnectionOptions): Promise<RtspConnection> {
    if (url.protocol !== 'rtsp:') return Promise.reject(new RtspError('protocol', `${url.protocol} URLs are not supported: use rtsp://`));
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 554) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RtspError('timeout', `no RTSP connection to ${url.host} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new RtspError('connect', `RTSP connection to ${url.host}: ${e.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        resolve(new RtspConnection(socket, url, opts));
      });
    });
  }

  get bufferedBytes(): number {
    return this.parser.bufferedBytes;
  }

  /**
   * One request, authenticated as the camera asks: the last accepted Digest challenge is reused with
   * the next nonce count; on 401 the new challenge is answered once, and once more if it says stale.
   * Requests are serialized, so a keep-alive never interleaves with a SETUP.
   */
  request(method: string, uri: string, headers: [string, string][] = [], body?: string): Promise<RtspResponse> {
    const run = this.queue.then(() => this.authenticated(method, uri, headers, body));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async authenticated(method: string, uri: string, headers: [string, string][], body: string | undefined): Promise<RtspResponse> {
    const call = this.auth.begin(await this.opts.credentials.current());
    // Basic only where the VAPIX client allows it too: to a loopback host, never across a network.
    const basicOver = this.opts.basicOnLoopback === true && LOOPBACK.test(this.url.hostname) ? 'loopback' : undefined;
    for (;;) {
      let auth: string | undefined;
      try {
        auth = call.authorization(method, uri);
      } catch (e) {
        throw new RtspError('auth', `camera at ${this.url.host}: ${(e as Error).message}`, 401);
      }
      const res = await this.send(method, uri, auth ? [...headers, ['Authorization', auth]] : headers, body);
      if (res.status !== 401) return res;
      const www = res.headers.get('www-authenticate') ?? [];
      const verdict = await call.unauthorized(www, basicOver);
      if (!verdict.retry) throw this.refused(verdict.refusal, method, www, call.credentials);
    }
  }

  private refused(refusal: AuthRefusal, method: string, www: string[], cred: DigestCredentials): RtspError {
    if (refusal === 'credentials') {
      return new RtspError('auth', `camera at ${this.url.host} refused the RTSP credentials of user "${cred.username}" (401): check the user and password of the camera account`, 401, cred.username);
    }
    return new RtspError(
      'auth',
      `camera at ${this.url.host} answered ${method} with 401 without a Digest challenge this client supports (WWW-Authenticate: ${JSON.stringify(www.join(' | ').slice(0, 120))}): enable Digest authentication on the camera`,
      401,
    );
  }

  private send(method: string, uri: string, headers: [string, string][], body: string | undefined): Promise<RtspResponse> {
    if (this.ended || this.isClosed) return Promise.reject(this.ended ?? new RtspError('closed', 'RTSP connection closed'));
    const cseq = ++this.cseq;
    const all: [string, string][] = [['CSeq', String(cseq)], ['User-Agent', this.opts.userAgent ?? 'cloudcam'], ...headers];
    let bytes: Buffer;
    try {
      bytes = serializeMessage(`${method} ${uri} RTSP/1.0`, all, body);
    } catch (e) {
      return Promise.reject(new RtspError('protocol', `cannot send ${method}: ${(e as Error).message}`));
    }
    return new Promise<RtspResponse>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new RtspError('timeout', `camera at ${this.url.host} did not answer ${method} within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.waiting = { cseq, resolve, reject, timer };
      this.socket.write(bytes);
    });
  }

  private onMessage(m: RtspMessage): void {
    if (m.type === 'request') {
      // A camera may ask us something (RFC 7826 §13.8 keep-alive from the server); we support none of it.
      const cseq = header(m.headers, 'cseq') ?? '0';
      if (/^\d{1,10}$/.test(cseq)) this.socket.write(serializeMessage('RTSP/1.0 501 Not Implemented', [['CSeq', cseq]]));
      return;
    }
    const w = this.waiting;
    if (!w || header(m.headers, 'cseq') !== String(w.cseq)) return; // late or unsolicited: ignored
    clearTimeout(w.timer);
    this.waiting = undefined;
    w.resolve(m);
  }

  private fail(e: RtspError): void {
    if (this.ended) return;
    this.ended = this.isClosed ? new RtspError('closed', 'RTSP connection closed') : e;
    const w = this.waiting;
    this.waiting = undefined;
    if (w) {
      clearTimeout(w.timer);
      w.reject(this.ended);
    }
    this.socket.destroy();
    this.resolveClosed(this.isClosed ? undefined : e);
  }

  /** Ends the connection (no error reported). */
  close(): void {
    this.isClosed = true;
    this.fail(new RtspError('closed', 'RTSP connection closed'));
  }
}
