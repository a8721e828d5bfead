/**
 * One HTTP(S) request over node:http/node:https, with the few things the agent's protocol clients
 * need: an AbortSignal that also cuts a body being read, a body from a string, Buffer or stream
 * with the Content-Length the caller gives (never chunked), and an optional keep-alive Agent (e.g.
 * one whose connections are pinned to a checked address). Resolves when the response headers
 * arrive; the body is the response stream, to read or discard.
 *
 * Why not undici: in the camera agent, undici (with its WebAssembly HTTP parser) costs ~10 MB of
 * idle RSS more than node's built-in client; see docs/decisions.md.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import { TLSSocket } from 'node:tls';

export interface HttpRequestOptions {
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer | Readable | undefined;
  signal: AbortSignal;
  /** Defaults to node's global keep-alive agent for the URL's protocol. */
  agent?: http.Agent | undefined;
}

export interface HttpResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /**
   * Resolves once the request no longer uses its body: every byte handed to the operating system,
   * or the request closed (writes still queued are then cancelled). A server may answer before it
   * has read the whole body; until this resolves, a Buffer body may still be read by the socket, so
   * its memory must not be released (release-buffer.ts). Never rejects; the caller's signal still
   * cuts the request until then.
   */
  bodyReleased: Promise<void>;
}

/** What undici and fetch throw on abort: an AbortError carrying the signal's reason. */
function abortError(signal: AbortSignal): Error {
  const err = new Error('the request was aborted', { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}

export function httpRequest(url: URL, opts: HttpRequestOptions): Promise<HttpResponse> {
  const { signal } = opts;
  if (signal.aborted) return Promise.reject(abortError(signal));
  const send = url.protocol === 'https:' ? https.request : http.request;
  return new Promise<HttpResponse>((resolve, reject) => {
    const req = send(url, {
      method: opts.method,
      headers: opts.headers,
      ...(opts.agent ? { agent: opts.agent } : {}),
    });
    let res: IncomingMessage | undefined;
    // Cut the exchange wherever it is: before the headers (reject), while the response body is read
    // (the body stream fails, so the reader's loop throws) or while the request body is still sent.
    const onAbort = (): void => {
      const err = abortError(signal);
      res?.destroy(err);
      req.destroy(err);
      reject(err);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let requestDone = false;
    let requestClosed = false;
    let responseClosed = false;
    let releaseBody = (): void => undefined;
    const bodyReleased = new Promise<void>((r) => (releaseBody = r));
    // The signal stays armed until both halves are over: a server that answers early and stops
    // reading must not leave a request body pending forever.
    const settle = (): void => {
      if (requestDone) releaseBody();
      if (res ? requestDone && responseClosed : requestClosed) signal.removeEventListener('abort', onAbort);
    };
    // Stays attached after the response: a socket error while the body is read must not go unhandled.
    // ('close' follows every error.)
    req.on('error', reject);
    req.on('finish', () => {
      requestDone = true;
      settle();
    });
    req.on('close', () => {
      requestDone = requestClosed = true;
      settle();
    });
    req.on('response', (response) => {
      res = response;
      response.on('close', () => {
        responseClosed = true;
        // The server answered before it took the whole body. Node's client then stops pulling
        // the rest (seen on Node 20 and 26: the stream never drains again), which would hold the
        // connection and the body until the timeout; the answer is final, so the rest is dropped.
        if (!req.writableEnded) req.destroy();
        settle();
      });
      resolve({ statusCode: response.statusCode ?? 0, headers: response.headers, body: response, bodyReleased });
    });
    const body = opts.body;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
      req.end(body);
    } else {
      // The body is pulled only once the connection is up (TLS included), as undici does: a caller
      // that tracks how much of it was consumed (s3-post's "whole form sent") must not count bytes
      // that only sat in a buffer of a connection that never opened.
      let started = false;
      const start = (): void => {
        started = true;
        // pipeline destroys the body if the request fails, and the request if the body fails.
        pipeline(body, req, () => undefined);
      };
      req.once('socket', (socket) => {
        if (!socket.connecting) start(); // a kept-alive connection, already open
        else socket.once(socket instanceof TLSSocket ? 'secureConnect' : 'connect', start);
      });
      req.once('close', () => {
        if (!started) body.destroy();
      });
    }
  });
}

/**
 * Reads and drops a body up to `limit` bytes so its connection can be reused; a longer body is cut
 * (the connection is closed instead). Never throws: the body was of no interest.
 */
export async function discardBody(body: IncomingMessage, limit: number): Promise<void> {
  body.on('error', () => undefined);
  let seen = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > limit) break; // leaving the loop destroys the body
    }
  } catch {
    // An error here only means the connection is gone, which is fine for a body we drop.
  }
}
