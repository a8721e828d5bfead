/**
 * The IoT data-plane shadow REST API ("Device Shadow REST API") over a ShadowStore, close enough that
 * @aws-sdk/client-iot-data-plane cannot tell it from AWS: GetThingShadow, UpdateThingShadow,
 * DeleteThingShadow and ListNamedShadowsForThing, with errors the SDK turns into its typed exceptions
 * (it reads the type from the `x-amzn-ErrorType` header).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/log.js';
import { checkSignature, type DataPlaneCredentials } from './auth.js';
import { MAX_REQUEST_BYTES } from './document.js';
import { MESSAGES, ShadowError, type ShadowErrorCode } from './errors.js';
import { checkKey, type ShadowStore } from './store.js';
import type { ShadowKey } from './topics.js';

export type { DataPlaneCredentials } from './auth.js';

export interface DataPlaneApi {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface DataPlaneApiOptions {
  store: ShadowStore;
  host?: string;
  port?: number;
  log?: Logger;
  /**
   * The key pair every request must be signed with (SigV4), as AWS checks the caller's IAM key:
   * unsigned or wrongly signed requests get 403 ForbiddenException. `'accept-any-signature'` checks only
   * that an Authorization header of the right shape is present: for tests of routing alone.
   */
  credentials: DataPlaneCredentials | 'accept-any-signature';
}

type HttpCode = ShadowErrorCode | 405;

/** The modeled exceptions of the IoT data-plane API, by HTTP status. */
const ERROR_TYPES: Record<HttpCode, string> = {
  400: 'InvalidRequestException',
  401: 'UnauthorizedException',
  403: 'ForbiddenException',
  404: 'ResourceNotFoundException',
  405: 'MethodNotAllowedException',
  409: 'ConflictException',
  413: 'RequestEntityTooLargeException',
  415: 'UnsupportedDocumentEncodingException',
  429: 'ThrottlingException',
  500: 'InternalFailureException',
};

const SHADOW_PATH = /^\/things\/([^/]+)\/shadow$/;
const LIST_PATH = /^\/api\/things\/shadow\/ListNamedShadowsForThing\/([^/]+)$/;
const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 25;

class HttpError extends Error {
  constructor(
    readonly status: HttpCode,
    message: string,
    readonly clientToken?: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `The path segment '${segment}' is not valid percent-encoding.`);
  }
}

function shadowKey(thing: string, name: string | null): ShadowKey {
  if (name === null) return { thing };
  return { thing, shadow: name };
}

/** nextToken is the last name of the previous page, base64url-encoded so callers treat it as opaque. */
function listPage(names: string[], query: URLSearchParams): { results: string[]; nextToken?: string } {
  const rawSize = query.get('pageSize');
  const pageSize = rawSize === null ? DEFAULT_PAGE_SIZE : Number(rawSize);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new HttpError(400, `pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  const token = query.get('nextToken');
  let start = 0;
  if (token !== null) {
    const after = Buffer.from(token, 'base64url').toString('utf8');
    if (token === '' || !/^[$a-zA-Z0-9:_-]+$/.test(after)) throw new HttpError(400, 'nextToken is not one this API returned');
    start = names.findIndex((n) => n > after);
    if (start === -1) start = names.length;
  }
  const results = names.slice(start, start + pageSize);
  const last = results[results.length - 1];
  return start + pageSize < names.length && last !== undefined ? { results, nextToken: Buffer.from(last).toString('base64url') } : { results };
}

export async function startDataPlaneApi(opts: DataPlaneApiOptions): Promise<DataPlaneApi> {
  const { store, log } = opts;
  const host = opts.host ?? '127.0.0.1';

  const send = (res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const sendError = (res: ServerResponse, status: HttpCode, message: string, clientToken?: string): void => {
    const body: Record<string, unknown> = { code: status, message, timestamp: store.seconds() };
    if (clientToken !== undefined) body.clientToken = clientToken;
    send(res, status, body, { 'x-amzn-errortype': ERROR_TYPES[status] });
  };

  const route = (method: string, path: string, query: URLSearchParams, body: Buffer): object => {
    const shadowMatch = SHADOW_PATH.exec(path);
    if (shadowMatch) {
      const key = shadowKey(decodeSegment(shadowMatch[1] ?? ''), query.get('name'));
      checkKey(key);
      if (method === 'GET') return store.get(key);
      if (method === 'POST') return store.update(key, body).accepted;
      if (method === 'DELETE') return store.delete(key, body);
      throw new HttpError(405, `Method ${method} is not allowed on ${path}`);
    }
    const listMatch = LIST_PATH.exec(path);
    if (listMatch) {
      if (method !== 'GET') throw new HttpError(405, `Method ${method} is not allowed on ${path}`);
      const page = listPage(store.list(decodeSegment(listMatch[1] ?? '')), query);
      return { ...page, timestamp: store.seconds() };
    }
    throw new HttpError(404, `No such resource: ${method} ${path}`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const rawQuery = q === -1 ? '' : rawUrl.slice(q + 1);
    const body = await readBody(req);
    if (body === undefined) {
      sendError(res, 413, MESSAGES.tooLarge);
      return;
    }
    const denied = checkSignature({ method, rawPath, rawQuery, headers: req.headers, body }, { credentials: opts.credentials === 'accept-any-signature' ? undefined : opts.credentials, now: Date.now() });
    if (denied !== undefined) {
      log?.warn({ method, path: rawPath }, `data-plane request refused: ${denied}`);
      sendError(res, 403, denied);
      return;
    }
    try {
      send(res, 200, route(method, rawPath, new URLSearchParams(rawQuery), body));
      log?.debug({ method, path: rawPath, status: 200 }, 'data-plane request');
    } catch (err) {
      if (err instanceof ShadowError || err instanceof HttpError) {
        const status = err instanceof ShadowError ? err.code : err.status;
        log?.debug({ method, path: rawPath, status }, 'data-plane request rejected');
        sendError(res, status, err.message, err.clientToken);
      } else {
        log?.error({ method, path: rawPath, err: err instanceof Error ? err.message : String(err) }, 'data-plane request failed');
        sendError(res, 500, 'Internal service failure');
      }
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log?.error({ err: err instanceof Error ? err.message : String(err) }, 'data-plane connection failed');
      if (!res.headersSent) sendError(res, 500, 'Internal service failure');
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log?.info({ url, verifiesSignatures: opts.credentials !== 'accept-any-signature' }, 'data-plane API listening');

  return {
    url,
    port,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
