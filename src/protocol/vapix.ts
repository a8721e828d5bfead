/**
 * The agent's VAPIX client: JPEG snapshots, basic device information and parameters over HTTP
 * with Digest authentication. Every call is bounded in time and in bytes, and every failure is a
 * VapixError whose kind tells the caller what went wrong and whose message tells an operator what
 * to do about it.
 */
import type { Agent } from 'node:http';
import { Readable } from 'node:stream';
import { RFC_2069_REFUSED, digestAuthorization, parseDigestChallenges, pickChallenge, type DigestChallenge, type DigestCredentials } from './digest.js';
import { discardBody, httpRequest, type HttpResponse } from './http-request.js';
import { describeTlsFailure, type TlsFailure } from './camera-tls.js';

/**
 * Where the credentials come from when they are not a fixed user and password: the camera's D-Bus
 * service account (src/protocol/vapix-service-account.ts) hands out credentials that live in memory
 * only and can be asked for again when the camera stops accepting them.
 */
export interface VapixCredentialSource {
  /** The credentials to use now; rejects with a VapixError('auth') naming the fix when there are none. */
  current(): Promise<DigestCredentials>;
  /** Called once per call after the camera refused `refused`: fresh credentials to retry with. */
  renew(refused: DigestCredentials): Promise<DigestCredentials>;
  /** What an operator should check when the camera refuses them (ends the 401 message). */
  readonly refusedHint: string;
  /**
   * Basic authentication may answer a camera that offers no Digest, but only to a loopback host:
   * set for the service account, whose credentials are valid only on the camera's local virtual
   * host (Axis's own example calls it with Basic), so nothing crosses a network.
   */
  readonly basicOnLoopback?: boolean;
}

export type VapixOptions = {
  baseUrl: string;
  timeoutMs: number;
  /**
   * Keep-alive connection agent (http.Agent or https.Agent); defaults to node's global one. For
   * https, the agent decides which certificate is trusted (camera-tls.ts: pinned or CA).
   */
  agent?: Agent;
  /** Rewords a TLS failure for how this client trusts the camera (e.g. "the pinned certificate changed" and how to re-pin). */
  explainTls?: (failure: TlsFailure) => TlsFailure;
} & ({ username: string; password: string } | { credentials: VapixCredentialSource });

/** A fixed configured account: nothing to renew, so a refusal is final. */
export function fixedCredentials(cred: DigestCredentials): VapixCredentialSource {
  return {
    current: () => Promise.resolve(cred),
    renew: () => Promise.resolve(cred),
    refusedHint: 'check camera.username and camera.password; the user needs the operator role (or admin)',
  };
}

export type VapixErrorKind = 'auth' | 'http' | 'timeout' | 'too-large' | 'truncated' | 'network' | 'tls' | 'not-jpeg';

export class VapixError extends Error {
  readonly kind: VapixErrorKind;
  readonly status?: number;
  /** What to do, when the message's fix is worth showing on its own (tls). */
  readonly fix?: string;
  constructor(kind: VapixErrorKind, message: string, opts: { status?: number; cause?: unknown; fix?: string } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'VapixError';
    this.kind = kind;
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.fix !== undefined) this.fix = opts.fix;
  }
}

/** Replies other than snapshots are small; anything bigger is not the API we expect. */
const MAX_TEXT_BYTES = 1024 * 1024;
const MAX_401_BODY = 16 * 1024;

type ResponseData = HttpResponse;

function headerValue(h: ResponseData['headers'][string]): string | undefined {
  return Array.isArray(h) ? h[0] : h;
}

/** A short printable excerpt of a reply, for error messages. */
function excerpt(buf: Buffer, max = 160): string {
  const s = buf.subarray(0, max).toString('latin1').replace(/[^\x20-\x7e]+/g, ' ').trim();
  return buf.length > max ? `${s}...` : s;
}

/** Drops a body we will not read; the abort it causes is expected, not an error to report. */
function discard(body: ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

interface RequestBody {
  data: string | Buffer;
  contentType: string;
  onProgress?: ((sent: number, total: number) => void) | undefined;
}

/** A fresh stream over buf per attempt (a digest retry resends the body), reporting bytes handed to the socket. */
function progressStream(buf: Buffer, onProgress: (sent: number, total: number) => void): Readable {
  const CHUNK = 64 * 1024;
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= buf.length) {
        this.push(null);
        return;
      }
      const end = Math.min(buf.length, offset + CHUNK);
      this.push(buf.subarray(offset, end));
      offset = end;
      onProgress(offset, buf.length);
    },
  });
}

function isJpeg(buf: Buffer): boolean {
  return (
    buf.length >= 4 && buf[0] === 0xff && buf[1] === 0xd8 && buf[buf.length - 2] === 0xff && buf[buf.length - 1] === 0xd9
  );
}

export class VapixClient {
  private readonly base: URL;
  private readonly opts: VapixOptions;
  private readonly credentials: VapixCredentialSource;
  /** The user of the last request, for messages. */
  private username = '';
  /** Last accepted challenge, reused (with the next nonce count) to save a round trip per call. */
  private session?: { challenge: DigestChallenge; nc: number };
  /** The camera offered only Basic, which basicOnLoopback allowed: send it up front. */
  private basic = false;

  constructor(opts: VapixOptions) {
    let base: URL;
    try {
      base = new URL(opts.baseUrl);
    } catch {
      throw new RangeError(`VAPIX base URL "${opts.baseUrl}" is not a URL; set camera.url to e.g. http://127.0.0.1`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new RangeError(`VAPIX base URL must be http: or https:, got ${base.protocol} (camera.url)`);
    }
    if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) {
      throw new RangeError(`VAPIX timeoutMs must be a positive number of milliseconds, got ${opts.timeoutMs} (camera.timeoutMs)`);
    }
    if ('username' in opts) {
      if (opts.username === '') throw new RangeError('VAPIX username is empty: set camera.username');
      this.credentials = fixedCredentials({ username: opts.username, password: opts.password });
    } else {
      this.credentials = opts.credentials;
    }
    this.base = base;
    this.opts = opts;
  }

  /** GET /axis-cgi/jpg/image.cgi: one JPEG, never more than maxBytes read. */
  async captureJpeg(o: {
    resolution?: string;
    compression?: number;
    maxBytes: number;
    signal?: AbortSignal;
  }): Promise<{ jpeg: Buffer; ms: number }> {
    if (!Number.isInteger(o.maxBytes) || o.maxBytes <= 0) {
      throw new RangeError(`captureJpeg maxBytes must be a positive integer, got ${o.maxBytes}`);
    }
    if (o.resolution !== undefined && !/^\d+x\d+$/.test(o.resolution)) {
      throw new RangeError(`captureJpeg resolution must be WIDTHxHEIGHT such as 1920x1080, got "${o.resolution}"`);
    }
    if (o.compression !== undefined && (!Number.isInteger(o.compression) || o.compression < 0 || o.compression > 100)) {
      throw new RangeError(`captureJpeg compression must be an integer 0..100 (higher = smaller file), got ${o.compression}`);
    }
    const q = new URLSearchParams();
    if (o.resolution !== undefined) q.set('resolution', o.resolution);
    if (o.compression !== undefined) q.set('compression', String(o.compression));
    const qs = q.toString();
    const path = `/axis-cgi/jpg/image.cgi${qs ? `?${qs}` : ''}`;
    const started = performance.now();
    return this.bounded(o.signal, async (signal) => {
      const res = await this.exchange('GET', path, undefined, signal);
      if (res.statusCode !== 200) throw await this.statusError(res, path);
      const jpeg = await this.readBody(res, o.maxBytes, signal, 'snapshot');
      if (!isJpeg(jpeg)) {
        const type = headerValue(res.headers['content-type']) ?? 'none';
        throw new VapixError(
          'not-jpeg',
          `camera answered ${path} with ${jpeg.length} bytes of ${type} that are not a JPEG (${excerpt(jpeg, 80)}): ` +
            'check that camera.url points to an Axis camera and that its JPEG encoder is available',
        );
      }
      return { jpeg, ms: Math.round(performance.now() - started) };
    });
  }

  /** POST /axis-cgi/basicdeviceinfo.cgi getAllProperties: SerialNumber, ProdNbr, Architecture, Soc, Version ... */
  async basicDeviceInfo(): Promise<Record<string, string>> {
    const path = '/axis-cgi/basicdeviceinfo.cgi';
    const body = JSON.stringify({ apiVersion: '1.0', context: 'cloudcam', method: 'getAllProperties' });
    return this.bounded(undefined, async (signal) => {
      const res = await this.exchange('POST', path, body, signal);
      if (res.statusCode !== 200) throw await this.statusError(res, path);
      const raw = await this.readBody(res, MAX_TEXT_BYTES, signal, 'reply');
      let msg: unknown;
      try {
        msg = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new VapixError('http', `camera answered ${path} with invalid JSON (${excerpt(raw)}): is it an Axis camera with AXIS OS 8.40 or later?`, {
          status: 200,
        });
      }
      const m = msg as { error?: { code?: unknown; message?: unknown }; data?: { propertyList?: unknown } } | null;
      if (m?.error) {
        throw new VapixError(
          'http',
          `camera refused ${path} getAllProperties: error ${String(m.error.code)} ${String(m.error.message)}`,
          { status: 200 },
        );
      }
      const list = m?.data?.propertyList;
      if (typeof list !== 'object' || list === null || Array.isArray(list)) {
        throw new VapixError('http', `camera answered ${path} without data.propertyList (${excerpt(raw)})`, { status: 200 });
      }
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(list as Record<string, unknown>)) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
      }
      return out;
    });
  }

  /**
   * GET /axis-cgi/param.cgi?action=list[&group=...]. Keys come back without the `root.` prefix
   * (e.g. `Time.NTP.Server`), the form updateParams takes.
   */
  async listParams(group?: string): Promise<Record<string, string>> {
    const path = `/axis-cgi/param.cgi?action=list${group ? `&group=${encodeURIComponent(group)}` : ''}`;
    const body = await this.textCall('GET', path);
    const out: Record<string, string> = {};
    const errors: string[] = [];
    for (const line of body.split(/\r?\n/)) {
      if (line.trim() === '') continue;
      if (line.startsWith('#')) {
        errors.push(line.replace(/^#\s*/, ''));
        continue;
      }
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq).replace(/^root\./, '');
      out[key] = line.slice(eq + 1);
    }
    if (errors.length > 0) {
      throw new VapixError(
        'http',
        `camera refused param.cgi list of group "${group ?? 'root'}": ${errors.join('; ')} (check the group name; the firmware may not have it)`,
        { status: 200 },
      );
    }
    return out;
  }

  /** GET /axis-cgi/param.cgi?action=update&X=Y...; the camera answers `OK` or `# Error: ...` lines. */
  async updateParams(values: Record<string, string>): Promise<void> {
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
    const body = (await this.textCall('GET', path)).trim();
    if (body === 'OK') return;
    const lines = body.split(/\r?\n/).filter((l) => l.trim() !== '');
    const errors = lines.filter((l) => l.startsWith('#')).map((l) => l.replace(/^#\s*/, ''));
    throw new VapixError(
      'http',
      errors.length > 0
        ? `camera refused param.cgi update: ${errors.join('; ')} (check the parameter names, that they are writable, and the values)`
        : `camera answered param.cgi update with "${excerpt(Buffer.from(body))}" instead of OK`,
      { status: 200 },
    );
  }

  /**
   * Any other VAPIX call: digest-authenticated, bounded in time (timeoutMs, default the client's) and
   * in reply size. The status is returned, not judged (401 still becomes VapixError 'auth'), so the
   * API modules in this folder can read each API's own error replies. onProgress follows the upload
   * of a Buffer body (install's progress bar).
   */
  async call(
    method: 'GET' | 'POST',
    path: string,
    opts: { body?: Buffer | string; contentType?: string; maxBytes?: number; timeoutMs?: number; onProgress?: (sent: number, total: number) => void } = {},
  ): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const body = opts.body === undefined ? undefined : { data: opts.body, contentType: opts.contentType ?? 'application/json', onProgress: opts.onProgress };
    return this.bounded(
      undefined,
      async (signal) => {
        const res = await this.exchange(method, path, body, signal);
        const out = await this.readBody(res, opts.maxBytes ?? MAX_TEXT_BYTES, signal, 'reply');
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) {
          const value = headerValue(v);
          if (value !== undefined) headers[k] = value;
        }
        return { status: res.statusCode, headers, body: out };
      },
      opts.timeoutMs,
    );
  }

  /** The camera's base URL (origin), for messages. */
  get origin(): string {
    return this.base.origin;
  }

  // -------------------------------------------------------------------------------------------

  private async textCall(method: 'GET' | 'POST', path: string): Promise<string> {
    return this.bounded(undefined, async (signal) => {
      const res = await this.exchange(method, path, undefined, signal);
      if (res.statusCode !== 200) throw await this.statusError(res, path);
      return (await this.readBody(res, MAX_TEXT_BYTES, signal, 'reply')).toString('utf8');
    });
  }

  /**
   * Runs `fn` under one deadline of timeoutMs (headers and body, all digest round trips) that also
   * follows the caller's signal, and turns whatever escapes into a VapixError.
   */
  private async bounded<T>(caller: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>, timeoutMs = this.opts.timeoutMs): Promise<T> {
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = caller ? AbortSignal.any([deadline, caller]) : deadline;
    try {
      return await fn(signal);
    } catch (err) {
      if (err instanceof VapixError || err instanceof RangeError) throw err;
      if (deadline.aborted) {
        throw new VapixError(
          'timeout',
          `camera at ${this.base.origin} did not complete the request within ${timeoutMs} ms: ` +
            'check that it is reachable and not overloaded, or raise camera.timeoutMs',
          { cause: err },
        );
      }
      if (caller?.aborted) {
        throw new VapixError('timeout', `request to the camera at ${this.base.origin} was cancelled by the caller`, { cause: err });
      }
      const tls = describeTlsFailure(err);
      if (tls) {
        const said = this.opts.explainTls ? this.opts.explainTls(tls) : tls;
        throw new VapixError('tls', `TLS with the camera at ${this.base.origin} failed, nothing was sent: ${said.problem}. Fix: ${said.fix}`, { cause: err, fix: said.fix });
      }
      const code = (err as { code?: unknown }).code;
      throw new VapixError(
        'network',
        `cannot talk to the camera at ${this.base.origin} (${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}): ` +
          'check camera.url and that the camera is powered and on the network',
        { cause: err },
      );
    }
  }

  private url(path: string): URL {
    return new URL(path, this.base);
  }

  private send(method: string, path: string, body: RequestBody | undefined, authorization: string | undefined, signal: AbortSignal) {
    const headers: Record<string, string> = { accept: '*/*' };
    if (authorization) headers.authorization = authorization;
    let payload: string | Buffer | Readable | undefined;
    if (body !== undefined) {
      headers['content-type'] = body.contentType;
      payload = body.onProgress && Buffer.isBuffer(body.data) ? progressStream(body.data, body.onProgress) : body.data;
      headers['content-length'] = String(Buffer.byteLength(body.data));
    }
    return httpRequest(this.url(path), { method, headers, body: payload, signal, agent: this.opts.agent });
  }

  private authorize(method: string, path: string, cred: DigestCredentials): string | undefined {
    if (this.basic) return `Basic ${Buffer.from(`${cred.username}:${cred.password}`, 'utf8').toString('base64')}`;
    const s = this.session;
    if (!s) return undefined;
    s.nc += 1;
    return digestAuthorization(s.challenge, cred, { method, uri: this.url(path).pathname + this.url(path).search }, s.nc);
  }

  /**
   * One request with Digest authentication: reuse the last challenge if there is one; on 401 answer
   * the new challenge once, and once more only if the camera says the nonce was stale. Credentials
   * the camera refuses are renewed once per call (a service account's are re-issued; fixed ones are not).
   */
  private async exchange(method: string, path: string, body: RequestBody | string | undefined, signal: AbortSignal): Promise<ResponseData> {
    const payload = typeof body === 'string' ? { data: body, contentType: 'application/json' } : body;
    let cred = await this.credentials.current();
    let fresh = false; // the last request answered a challenge from the 401 just before it
    let staleRetried = false;
    let renewed = false;
    for (;;) {
      this.username = cred.username;
      const res = await this.send(method, path, payload, this.authorize(method, path, cred), signal);
      if (res.statusCode !== 401) return res;
      // Each WWW-Authenticate header on its own: a camera may offer Digest and Basic separately.
      const www = res.body.headersDistinct['www-authenticate'];
      await discardBody(res.body, MAX_401_BODY);
      const offered = parseDigestChallenges(www ?? []);
      const challenge = pickChallenge(offered);
      if (!challenge && this.basicAllowed(www ?? [])) {
        this.session = undefined;
        if (!this.basic) {
          this.basic = true;
          continue;
        }
        if (!renewed) {
          renewed = true;
          const next = await this.credentials.renew(cred);
          if (next.username !== cred.username || next.password !== cred.password) {
            cred = next;
            continue;
          }
        }
        throw new VapixError('auth', `camera at ${this.base.origin} refused the credentials of user "${cred.username}" (HTTP 401): ${this.credentials.refusedHint}`, { status: 401 });
      }
      if (!challenge && offered.some((c) => c.qop === undefined)) {
        this.session = undefined;
        throw new VapixError('auth', `camera at ${this.base.origin}: ${RFC_2069_REFUSED}`, { status: 401 });
      }
      if (!challenge) {
        this.session = undefined;
        throw new VapixError(
          'auth',
          `camera at ${this.base.origin} answered 401 without a Digest challenge this client supports ` +
            `(WWW-Authenticate: ${String(www ?? 'none').slice(0, 120)}): enable Digest authentication on the camera (Basic alone is refused over HTTP)`,
          { status: 401 },
        );
      }
      if (fresh && !(challenge.stale && !staleRetried)) {
        if (!renewed) {
          // Asked again, answering the challenge just received: one more round trip, not two.
          const next = await this.credentials.renew(cred);
          renewed = true;
          if (next.username !== cred.username || next.password !== cred.password) {
            cred = next;
            this.session = { challenge, nc: 0 };
            staleRetried = false;
            continue;
          }
        }
        this.session = undefined;
        throw new VapixError(
          'auth',
          `camera at ${this.base.origin} refused the credentials of user "${cred.username}" (HTTP 401): ${this.credentials.refusedHint}`,
          { status: 401 },
        );
      }
      if (fresh) staleRetried = true;
      fresh = true;
      this.session = { challenge, nc: 0 };
    }
  }

  /** Basic only where the credential source allows it, the camera offers it, and the host is loopback. */
  private basicAllowed(www: string[]): boolean {
    return (
      this.credentials.basicOnLoopback === true &&
      /^127\.\d+\.\d+\.\d+$/.test(this.base.hostname) &&
      this.base.protocol === 'http:' &&
      www.some((h) => /^\s*basic\b/i.test(h))
    );
  }

  /** Reads the whole body, stopping (and dropping the connection) as soon as maxBytes is passed. */
  private async readBody(res: ResponseData, maxBytes: number, signal: AbortSignal, what: string): Promise<Buffer> {
    const lengthHeader = headerValue(res.headers['content-length']);
    const promised = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const tooLarge = (seen: string) =>
      new VapixError(
        'too-large',
        `camera ${what} is larger than the ${maxBytes}-byte limit (${seen}): ` +
          (what === 'snapshot' ? 'request a lower resolution or a higher compression, or raise maxBytes' : 'this is not a normal VAPIX reply'),
        { status: res.statusCode },
      );
    if (promised !== undefined && promised > maxBytes) {
      discard(res.body);
      throw tooLarge(`Content-Length ${promised}`);
    }
    const chunks: Buffer[] = [];
    let received = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        if (received + chunk.length > maxBytes) {
          discard(res.body);
          throw tooLarge(`more than ${maxBytes} bytes sent`);
        }
        received += chunk.length;
        chunks.push(chunk);
      }
    } catch (err) {
      if (err instanceof VapixError || signal.aborted) throw err;
      throw new VapixError(
        'truncated',
        `camera ${what} broke off after ${received}${promised !== undefined ? ` of ${promised}` : ''} bytes ` +
          `(${(err as Error).message}): the camera or the network dropped the connection; try again`,
        { status: res.statusCode, cause: err },
      );
    }
    if (promised !== undefined && received < promised) {
      throw new VapixError(
        'truncated',
        `camera ${what} ended after ${received} of ${promised} promised bytes: the camera or the network dropped the connection; try again`,
        { status: res.statusCode },
      );
    }
    return Buffer.concat(chunks, received);
  }

  private async statusError(res: ResponseData, path: string): Promise<VapixError> {
    let detail = '';
    res.body.on('error', () => undefined); // we may stop reading early; the abort is expected
    try {
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        n += chunk.length;
        if (n >= 4096) break; // leaving the loop destroys the body: we only want a hint
      }
      detail = excerpt(Buffer.concat(chunks));
    } catch {
      // The status is the message; the body was only a hint.
    }
    const s = res.statusCode;
    const hint =
      s === 503
        ? 'the camera is busy or starting up; try again later'
        : s === 404
          ? `the camera has no ${path.split('?')[0]}; check camera.url and that it is an Axis camera with VAPIX`
          : s === 403
            ? `user "${this.username}" lacks the rights for this call; give it the operator role`
            : s === 400
              ? 'the camera rejected the request arguments (e.g. a resolution it does not support)'
              : 'unexpected camera reply';
    return new VapixError('http', `camera answered ${path} with HTTP ${s}${detail ? ` "${detail}"` : ''}: ${hint}`, { status: s });
  }
}
