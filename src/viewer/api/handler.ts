import { THING_NAME_PATTERN } from '../../protocol/topics.js';
import { whyNotRequested, type HandleResult } from '../../cloud/handler.js';
import { bearerToken, type Caller, type TokenVerifier } from './auth.js';
import type { Bucket } from './bucket.js';
import { summarise, type KnownThing, type ShadowReader, type ThingDirectory } from './fleet.js';
import { eventHistory, history, MAX_HISTORY_PAGE } from './history.js';
import { pictureThing } from './keys.js';
import { grantLive, LiveRefusal, type LivePublisher, type LiveSignalling } from './live.js';
import type { RevocationList } from './revocations.js';
import { createShareToken, ShareTokenError, verifyShareToken, MIN_SHARE_SECONDS } from './share-token.js';

/**
 * The viewer's API: one handler, the same code behind API Gateway (lambda.ts) and devcloud
 * (node-adapter.ts). Routes:
 *   GET    /api/cameras?limit=&next=                    the fleet, a page at a time
 *   GET    /api/cameras/{thing}/snapshots?before=&limit= a camera's history, newest first (bounded S3 listings; history.ts)
 *   GET    /api/cameras/{thing}/events?before=&limit=    its event snapshots with their triggers, newest first
 *   GET    /api/cameras/{thing}                         one camera's summary (the camera page's status)
 *   POST   /api/cameras/{thing}/snapshot                "Snapshot now" (the cloud handler)
 *   POST   /api/cameras/{thing}/live                    a presigned KVS VIEWER URL and ICE servers; asks the camera to go live (live.ts)
 *   POST   /api/shares {key, ttlSeconds}                a share link to one snapshot
 *   DELETE /api/shares/{id}                             revokes a share link
 *   GET    /s/{token}                                   a share link: 302 to a fresh, short presigned GET
 * Everything under /api needs a valid access token; /s/ needs a valid, unexpired, unrevoked token.
 */

export interface ViewerRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Lower-case names. */
  headers: Record<string, string | undefined>;
  body: string;
  /** scheme://host the caller used; share links are made under it. */
  origin: string;
}

export interface ViewerResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface ViewerApiDeps {
  verifier: TokenVerifier;
  directory: ThingDirectory;
  shadows: ShadowReader;
  bucket: Bucket;
  requestSnapshot: (thing: string) => Promise<HandleResult>;
  shareSecret: () => Promise<Buffer>;
  revocations: RevocationList;
  /** Live view: the KVS calls (kvs.ts) and the go-live publish (QoS 1 on cloudcam/{thing}/live/request). */
  live: { signalling: LiveSignalling; publish: LivePublisher; urlSeconds?: number };
  /** Life of the presigned GETs the API hands out (image and thumbnail URLs). */
  presignSeconds?: number;
  /** Life of the presigned GET a share link redirects to: just long enough to load it. */
  shareRedirectSeconds?: number;
  now?: () => Date;
  /** Event keys dated more than this many days back are not listed (the bucket's retention; default history.ts DEFAULT_EVENT_DAYS). */
  eventDays?: number;
  /** Called once per camera with what it reported that the API ignores (never with tokens or URLs). */
  onIgnored?: (thing: string, why: string) => void;
  /** Called with what went wrong when a route fails unexpectedly (never with tokens or URLs). */
  onError?: (route: string, err: Error) => void;
}

const DEFAULT_PAGE = 50;
const MAX_PAGE = 100;
const MAX_BODY = 16 * 1024;

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** A machine-readable why, for answers a client acts on (the live route's 409s). */
    readonly reason?: string,
  ) {
    super(message);
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): ViewerResponse {
  return { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }, body: JSON.stringify(body) };
}

function pageSize(raw: string | null, max: number, fallback: number): number {
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ApiError(400, `limit must be an integer from 1 to ${max}`);
  return n;
}

function parseBody(req: ViewerRequest): Record<string, unknown> {
  if (req.body.length > MAX_BODY) throw new ApiError(413, `the request body is over ${MAX_BODY} bytes`);
  try {
    const value: unknown = JSON.parse(req.body);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ApiError(400, 'the request body must be a JSON object');
}

/** A share link's refusal, as a small page a person sees in the browser. */
function refusedPage(status: number, message: string): ViewerResponse {
  const text = message.replace(/[<>&"]/g, '');
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' },
    body: `<!doctype html><html lang="en"><meta name="viewport" content="width=device-width"><title>Link not valid</title><h1>Link not valid</h1><p>${text}</p></html>`,
  };
}

export function createViewerApi(deps: ViewerApiDeps): (req: ViewerRequest) => Promise<ViewerResponse> {
  const now = deps.now ?? (() => new Date());
  const presignSeconds = deps.presignSeconds ?? 900;
  const shareRedirectSeconds = deps.shareRedirectSeconds ?? 60;

  // Once per camera and API instance (a Lambda instance, devcloud's process): a camera that keeps
  // reporting a foreign key is polled every 2 s and must not flood the log.
  const ignoredThings = new Set<string>();
  const ignoredOnce = (thing: string, why: string): void => {
    if (ignoredThings.has(thing)) return;
    ignoredThings.add(thing);
    deps.onIgnored?.(thing, why);
  };

  async function authenticate(req: ViewerRequest): Promise<Caller> {
    const token = bearerToken(req.headers['authorization']);
    if (token === undefined) throw new ApiError(401, 'sign in first: this call needs Authorization: Bearer <access token>');
    try {
      return await deps.verifier.verify(token);
    } catch {
      // The reason (expired, bad signature, wrong client) is not echoed: the client just signs in again.
      throw new ApiError(401, 'the access token is not valid (expired, forged or for another app): sign in again');
    }
  }

  /** The camera a path names and what the registry says of it (one DescribeThing in AWS), else 404. */
  async function knownThing(raw: string): Promise<{ thing: string; known: KnownThing }> {
    let thing: string;
    try {
      thing = decodeURIComponent(raw);
    } catch {
      throw new ApiError(400, 'the camera name is not valid percent-encoding');
    }
    const known = THING_NAME_PATTERN.test(thing) ? await deps.directory.describe(thing) : undefined;
    if (known === undefined) throw new ApiError(404, `no camera named ${thing}`);
    return { thing, known };
  }

  async function openShare(token: string): Promise<ViewerResponse> {
    try {
      const payload = await verifyShareToken(token, { secret: await deps.shareSecret(), now: now(), isRevoked: (id) => deps.revocations.isRevoked(id) });
      const url = await deps.bucket.presignGet(payload.k, shareRedirectSeconds);
      return { status: 302, headers: { location: url, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }, body: '' };
    } catch (err) {
      if (err instanceof ShareTokenError) return refusedPage(err.reason === 'expired' || err.reason === 'revoked' ? 410 : 403, err.message);
      throw err;
    }
  }

  async function route(req: ViewerRequest): Promise<ViewerResponse> {
    const parts = req.path.split('/').filter(Boolean);
    if (req.method === 'GET' && parts.length === 2 && parts[0] === 's') return openShare(parts[1]!);
    if (parts[0] !== 'api') throw new ApiError(404, `no route ${req.method} ${req.path}`);
    const caller = await authenticate(req);
    const [, resource, id, sub] = parts;

    if (resource === 'me' && parts.length === 2 && req.method === 'GET') return json(200, caller);
    if (resource === 'cameras' && parts.length === 2 && req.method === 'GET') {
      const limit = pageSize(req.query.get('limit'), MAX_PAGE, DEFAULT_PAGE);
      const next = req.query.get('next') ?? undefined;
      const page = await deps.directory.list({ limit, ...(next !== undefined ? { next } : {}) });
      const at = now();
      const cameras = await Promise.all(
        page.things.map((t) => summarise(t, { shadows: deps.shadows, bucket: deps.bucket, presignSeconds, now: at, onIgnored: (why) => ignoredOnce(t, why) })),
      );
      return json(200, { cameras, next: page.next ?? null });
    }
    if (resource === 'cameras' && id !== undefined && parts.length === 3 && req.method === 'GET') {
      const { thing } = await knownThing(id);
      return json(200, await summarise(thing, { shadows: deps.shadows, bucket: deps.bucket, presignSeconds, now: now(), onIgnored: (why) => ignoredOnce(thing, why) }));
    }
    if (resource === 'cameras' && id !== undefined && parts.length === 4 && sub === 'live' && req.method === 'POST') {
      const { thing } = await knownThing(id);
      try {
        return json(200, await grantLive(thing, caller, { shadows: deps.shadows, ...deps.live, now }));
      } catch (err) {
        if (err instanceof LiveRefusal) throw new ApiError(409, err.message, err.reason);
        throw err;
      }
    }
    if (resource === 'cameras' && id !== undefined && parts.length === 4 && sub === 'snapshots' && req.method === 'GET') {
      const { thing } = await knownThing(id);
      const before = req.query.get('before') ?? undefined;
      const limit = pageSize(req.query.get('limit'), MAX_HISTORY_PAGE, 24);
      // history() checks before (a key of this camera or a day, not later than now): a RangeError, 400.
      return json(200, await history(deps.bucket, { thing, limit, now: now(), presignSeconds, before }));
    }
    if (resource === 'cameras' && id !== undefined && parts.length === 4 && sub === 'events' && req.method === 'GET') {
      const { thing, known } = await knownThing(id);
      const before = req.query.get('before') ?? undefined;
      const limit = pageSize(req.query.get('limit'), MAX_HISTORY_PAGE, 24);
      const bounds = { ...(deps.eventDays !== undefined ? { eventDays: deps.eventDays } : {}), ...(known.enrolledAt !== undefined ? { enrolledAt: known.enrolledAt } : {}) };
      return json(200, await eventHistory(deps.bucket, { thing, limit, now: now(), presignSeconds, before, ...bounds }));
    }
    if (resource === 'cameras' && id !== undefined && parts.length === 4 && sub === 'snapshot' && req.method === 'POST') {
      const { thing } = await knownThing(id);
      const result = await deps.requestSnapshot(thing);
      if (result.action !== 'requested') throw new ApiError(409, `no snapshot requested: ${whyNotRequested(result)}`);
      return json(202, { id: result.request.id, key: result.key });
    }
    if (resource === 'shares' && parts.length === 2 && req.method === 'POST') {
      const body = parseBody(req);
      const key = body['key'];
      const ttl = body['ttlSeconds'] ?? MIN_SHARE_SECONDS;
      const owner = typeof key === 'string' ? pictureThing(key) : undefined;
      if (typeof key !== 'string' || owner === undefined) throw new ApiError(400, 'key must be a snapshot key ({thing}/yyyy/mm/dd/{id}.jpg or {thing}/events/...)');
      if ((await deps.directory.describe(owner)) === undefined) throw new ApiError(404, `no camera owns ${key}`);
      let made;
      try {
        made = createShareToken({ secret: await deps.shareSecret(), key, ttlSeconds: Number(ttl), now: now() });
      } catch (err) {
        if (err instanceof RangeError) throw new ApiError(400, err.message);
        throw err;
      }
      return json(201, { id: made.payload.id, url: `${req.origin}/s/${made.token}`, expiresAt: new Date(made.payload.exp * 1000).toISOString() });
    }
    if (resource === 'shares' && id !== undefined && parts.length === 3 && req.method === 'DELETE') {
      if (!/^[0-9a-f]{32}$/.test(id)) throw new ApiError(400, 'a share id is 32 hex digits');
      await deps.revocations.revoke(id);
      return json(200, { revoked: id });
    }
    throw new ApiError(404, `no route ${req.method} ${req.path}`);
  }

  return async (req) => {
    try {
      return await route(req);
    } catch (err) {
      if (err instanceof ApiError) {
        const body = err.reason !== undefined ? { message: err.message, reason: err.reason } : { message: err.message };
        return json(err.status, body, err.status === 401 ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {});
      }
      if (err instanceof RangeError) return json(400, { message: err.message });
      const error = err instanceof Error ? err : new Error(String(err));
      deps.onError?.(`${req.method} ${req.path.startsWith('/s/') ? '/s/…' : req.path}`, error);
      return json(500, { message: 'the viewer API failed; see its log' });
    }
  };
}
