import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isPictureKey } from './keys.js';

/**
 * Share links: `{payload}.{signature}`, both base64url. The payload names one snapshot key, an expiry
 * and a random id (what a revocation names). The signature is HMAC-SHA256 under the share key (SSM
 * in AWS, the state dir in devcloud), so a link outlives the API's own temporary credentials: the
 * API checks the token and only then presigns a fresh, short GET.
 */

export const MIN_SHARE_SECONDS = 3600;
export const MAX_SHARE_SECONDS = 7 * 24 * 3600;
/** A share key shorter than this is refused: HMAC-SHA256 wants at least its output size. */
export const MIN_SHARE_KEY_BYTES = 32;
const MAX_TOKEN_CHARS = 2048;

export interface SharePayload {
  v: 1;
  /** Snapshot key in the bucket. */
  k: string;
  /** Expiry, Unix seconds. */
  exp: number;
  /** Random id; revocations name it. */
  id: string;
}

export type ShareRefusal = 'malformed' | 'bad-signature' | 'expired' | 'revoked';

export class ShareTokenError extends Error {
  constructor(
    readonly reason: ShareRefusal,
    message: string,
  ) {
    super(message);
  }
}

function sign(secret: Buffer, payload: string): Buffer {
  return createHmac('sha256', secret).update(payload, 'utf8').digest();
}

function checkSecret(secret: Buffer): void {
  if (secret.length < MIN_SHARE_KEY_BYTES) throw new Error(`the share-link key has ${secret.length} bytes; use at least ${MIN_SHARE_KEY_BYTES} random bytes`);
}

export function createShareToken(opts: { secret: Buffer; key: string; ttlSeconds: number; now: Date }): { token: string; payload: SharePayload } {
  checkSecret(opts.secret);
  if (!Number.isInteger(opts.ttlSeconds) || opts.ttlSeconds < MIN_SHARE_SECONDS || opts.ttlSeconds > MAX_SHARE_SECONDS) {
    throw new RangeError(`a share link lives ${MIN_SHARE_SECONDS} to ${MAX_SHARE_SECONDS} seconds (1 hour to 7 days); got ${String(opts.ttlSeconds)}`);
  }
  if (!isPictureKey(opts.key)) throw new RangeError(`"${opts.key}" is not a snapshot key ({thing}/yyyy/mm/dd/{id}.jpg or {thing}/events/...)`);
  const payload: SharePayload = { v: 1, k: opts.key, exp: Math.floor(opts.now.getTime() / 1000) + opts.ttlSeconds, id: randomBytes(16).toString('hex') };
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return { token: `${body}.${sign(opts.secret, body).toString('base64url')}`, payload };
}

function parsePayload(body: string): SharePayload | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const p = value as Record<string, unknown>;
  if (p['v'] !== 1 || typeof p['k'] !== 'string' || !isPictureKey(p['k']) || typeof p['exp'] !== 'number' || !Number.isInteger(p['exp'])) return undefined;
  if (typeof p['id'] !== 'string' || !/^[0-9a-f]{32}$/.test(p['id'])) return undefined;
  return { v: 1, k: p['k'], exp: p['exp'], id: p['id'] };
}

/**
 * The payload of a token that is well formed, signed by `secret`, not expired and not revoked;
 * otherwise a ShareTokenError naming which. The signature is checked before anything in the payload
 * is believed.
 */
export async function verifyShareToken(
  token: string,
  opts: { secret: Buffer; now: Date; isRevoked: (id: string) => Promise<boolean> },
): Promise<SharePayload> {
  checkSecret(opts.secret);
  const parts = token.split('.');
  if (token.length > MAX_TOKEN_CHARS || parts.length !== 2 || !/^[A-Za-z0-9_-]+$/.test(parts[0]!) || !/^[A-Za-z0-9_-]+$/.test(parts[1]!)) {
    throw new ShareTokenError('malformed', 'this share link is not one the viewer made');
  }
  const [body, signature] = parts as [string, string];
  const expected = sign(opts.secret, body);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ShareTokenError('bad-signature', 'this share link is not one the viewer made (signature does not match)');
  }
  const payload = parsePayload(body);
  if (!payload) throw new ShareTokenError('malformed', 'this share link is not one the viewer made');
  if (payload.exp * 1000 <= opts.now.getTime()) throw new ShareTokenError('expired', `this share link expired at ${new Date(payload.exp * 1000).toISOString()}`);
  if (await opts.isRevoked(payload.id)) throw new ShareTokenError('revoked', 'this share link was revoked');
  return payload;
}
