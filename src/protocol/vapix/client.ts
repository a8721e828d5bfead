/**
 * The agent's VAPIX client: one authenticated, bounded HTTP exchange with the camera. Every call is
 * bounded in time and in bytes, and every failure is a VapixError whose kind tells the caller what
 * went wrong and whose message tells an operator what to do about it. Each VAPIX API has its own
 * module beside this one (image, parameters, device-info, time, applications, events); the methods
 * below that carry an API's name only hand over to its module.
 */
import type { Agent } from 'node:http';
import { Readable } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { DigestCredentials } from '../digest.js';
import { discardBody, httpRequest, type HttpResponse } from '../http-request.js';
import { describeTlsFailure, type TlsFailure } from '../camera-tls.js';
import { fixedCredentials, VapixAuth, type AuthScheme, type VapixCredentialSource } from './auth.js';
import { basicDeviceInfo } from './device-info.js';
import { VapixError, statusError } from './errors.js';
import { captureJpeg, type CaptureOptions } from './image.js';
import { listParams, updateParams } from './parameters.js';

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

/** Replies other than snapshots are small; anything bigger is not the API we expect. */
export const MAX_TEXT_BYTES = 1024 * 1024;
const MAX_401_BODY = 16 * 1024;

type ResponseData = HttpResponse;

function headerValue(h: ResponseData['headers'][string]): string | undefined {
  return Array.isArray(h) ? h[0] : h;
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

export interface CallOptions {
  body?: Buffer | string;
  contentType?: string;
  maxBytes?: number;
  timeoutMs?: number;
  onProgress?: (sent: number, total: number) => void;
  /** The caller's cancellation, on top of the deadline. */
  signal?: AbortSignal;
  /** Ends the message when the reply passes maxBytes (what the caller can change). */
  tooLargeHint?: string;
}

export interface CallReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Whether an https agent (node's global one when none is given) refuses certificates it cannot
 * verify: rejectUnauthorized not turned off there nor process-wide.
 */
function agentVerifies(agent: Agent | undefined): boolean {
  if (process.env['NODE_TLS_REJECT_UNAUTHORIZED'] === '0') return false;
  const options = (agent as { options?: { rejectUnauthorized?: unknown } } | undefined)?.options;
  return options?.rejectUnauthorized !== false;
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

export class VapixClient {
  private readonly base: URL;
  private readonly opts: VapixOptions;
  private readonly auth: VapixAuth;
  /** The user of the last request, for messages. */
  private username = '';

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
    let credentials: VapixCredentialSource;
    if ('username' in opts) {
      if (opts.username === '') throw new RangeError('VAPIX username is empty: set camera.username');
      credentials = fixedCredentials({ username: opts.username, password: opts.password } satisfies DigestCredentials);
    } else {
      credentials = opts.credentials;
    }
    this.base = base;
    this.opts = opts;
    this.auth = new VapixAuth(base, credentials, base.protocol === 'https:' && agentVerifies(opts.agent));
  }

  /** The authentication scheme the camera accepted last (`setup check` reports it). */
  get authScheme(): AuthScheme {
    return this.auth.scheme;
  }

  /** image.ts: one JPEG from image.cgi, never more than maxBytes read. */
  captureJpeg(o: CaptureOptions): Promise<{ jpeg: Buffer; ms: number }> {
    return captureJpeg(this, o);
  }

  /** device-info.ts: basicdeviceinfo.cgi getAllProperties. */
  basicDeviceInfo(): Promise<Record<string, string>> {
    return basicDeviceInfo(this);
  }

  /** parameters.ts: param.cgi list, keys without `root.`. */
  listParams(group?: string): Promise<Record<string, string>> {
    return listParams(this, group);
  }

  /** parameters.ts: param.cgi update. */
  updateParams(values: Record<string, string>): Promise<void> {
    return updateParams(this, values);
  }

  /**
   * Any VAPIX call: authenticated, bounded in time (timeoutMs, default the client's; and the
   * caller's signal) and in reply size. The status is returned, not judged (401 still becomes
   * VapixError 'auth'), so each API module can read its API's own error replies. onProgress
   * follows the upload of a Buffer body (install's progress bar).
   */
  async call(method: 'GET' | 'POST', path: string, opts: CallOptions = {}): Promise<CallReply> {
    const body = opts.body === undefined ? undefined : { data: opts.body, contentType: opts.contentType ?? 'application/json', onProgress: opts.onProgress };
    return this.bounded(
      opts.signal,
      async (signal) => {
        const res = await this.exchange(method, path, body, signal);
        const out = await this.readBody(res, opts.maxBytes ?? MAX_TEXT_BYTES, signal, opts.tooLargeHint ?? 'this is not a normal VAPIX reply');
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

  /** A call whose only success is HTTP 200; any other status is a VapixError naming the fix. */
  async call200(method: 'GET' | 'POST', path: string, opts: CallOptions = {}): Promise<CallReply> {
    const reply = await this.call(method, path, opts);
    if (reply.status !== 200) throw statusError(reply.status, path, reply.body, this.username);
    return reply;
  }

  /** The camera's base URL (origin), for messages. */
  get origin(): string {
    return this.base.origin;
  }

  // -------------------------------------------------------------------------------------------

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

  private send(method: string, path: string, body: RequestBody | undefined, authorization: string | undefined, signal: AbortSignal) {
    const headers: Record<string, string> = { accept: '*/*' };
    if (authorization) headers.authorization = authorization;
    let payload: string | Buffer | Readable | undefined;
    if (body !== undefined) {
      headers['content-type'] = body.contentType;
      payload = body.onProgress && Buffer.isBuffer(body.data) ? progressStream(body.data, body.onProgress) : body.data;
      headers['content-length'] = String(Buffer.byteLength(body.data));
    }
    return httpRequest(new URL(path, this.base), { method, headers, body: payload, signal, agent: this.opts.agent });
  }

  /** One request, sent again as long as auth.ts says a 401 can be answered. */
  private async exchange(method: string, path: string, body: RequestBody | undefined, signal: AbortSignal): Promise<ResponseData> {
    const attempt = await this.auth.begin();
    const target = new URL(path, this.base);
    const uri = target.pathname + target.search;
    for (;;) {
      this.username = attempt.username;
      const res = await this.send(method, path, body, attempt.authorization(method, uri), signal);
      if (res.statusCode !== 401) return res;
      // Each WWW-Authenticate header on its own: a camera may offer Digest and Basic separately.
      const www = res.body.headersDistinct['www-authenticate'] ?? [];
      const socket = res.body.socket;
      const tlsVerified = socket instanceof TLSSocket && socket.authorized;
      await discardBody(res.body, MAX_401_BODY);
      await attempt.refused(www, { tlsVerified });
    }
  }

  /** Reads the whole body, stopping (and dropping the connection) as soon as maxBytes is passed. */
  private async readBody(res: ResponseData, maxBytes: number, signal: AbortSignal, tooLargeHint: string): Promise<Buffer> {
    const lengthHeader = headerValue(res.headers['content-length']);
    const promised = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const tooLarge = (seen: string) =>
      new VapixError('too-large', `camera reply is larger than the ${maxBytes}-byte limit (${seen}): ${tooLargeHint}`, { status: res.statusCode });
    if (promised !== undefined && promised > maxBytes) {
      discard(res.body);
      throw tooLarge(`Content-Length ${promised}`);
    }
    // With a Content-Length (what image.cgi sends), each chunk is copied into the one reply buffer as
    // it arrives and dropped: the socket's chunks can die young, and a picture of up to maxBytes is
    // never held twice while it is assembled (docs/benchmarks.md, issue 21). The Content-Length was
    // checked against maxBytes above; node's parser delivers no more than it.
    const into = promised !== undefined ? Buffer.allocUnsafeSlow(promised) : undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        if (received + chunk.length > maxBytes) {
          discard(res.body);
          throw tooLarge(`more than ${maxBytes} bytes sent`);
        }
        if (into) chunk.copy(into, received);
        else chunks.push(chunk);
        received += chunk.length;
      }
    } catch (err) {
      if (err instanceof VapixError || signal.aborted) throw err;
      throw new VapixError(
        'truncated',
        `camera reply broke off after ${received}${promised !== undefined ? ` of ${promised}` : ''} bytes ` +
          `(${(err as Error).message}): the camera or the network dropped the connection; try again`,
        { status: res.statusCode, cause: err },
      );
    }
    if (promised !== undefined && received < promised) {
      throw new VapixError(
        'truncated',
        `camera reply ended after ${received} of ${promised} promised bytes: the camera or the network dropped the connection; try again`,
        { status: res.statusCode },
      );
    }
    return into ?? Buffer.concat(chunks, received);
  }
}
