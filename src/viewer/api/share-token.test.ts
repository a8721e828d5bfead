import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createShareToken, verifyShareToken, ShareTokenError, MAX_SHARE_SECONDS, MIN_SHARE_SECONDS } from './share-token.js';

const secret = randomBytes(32);
const key = 'camera-1/2026/12/01/20261201T043000123Z-ab12cd34.jpg';
const t0 = new Date('2026-12-01T05:00:00Z');
const never = async (): Promise<boolean> => false;

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ShareTokenError) return err.reason;
    throw err;
  }
  return 'accepted';
}

describe('share tokens', () => {
  it('a fresh token opens its key until it expires, and not a second later', async () => {
    const { token, payload } = createShareToken({ secret, key, ttlSeconds: 3600, now: t0 });
    expect(payload.k).toBe(key);
    const ok = await verifyShareToken(token, { secret, now: new Date(t0.getTime() + 3599_000), isRevoked: never });
    expect(ok.k).toBe(key);
    expect(await refusal(verifyShareToken(token, { secret, now: new Date(t0.getTime() + 3600_000), isRevoked: never }))).toBe('expired');
  });

  it('lives 1 hour to 7 days, nothing else', () => {
    for (const ttl of [MIN_SHARE_SECONDS - 1, MAX_SHARE_SECONDS + 1, 0, -5, 1.5, Number.NaN]) {
      expect(() => createShareToken({ secret, key, ttlSeconds: ttl, now: t0 })).toThrow(RangeError);
    }
    expect(() => createShareToken({ secret, key, ttlSeconds: MAX_SHARE_SECONDS, now: t0 })).not.toThrow();
  });

  it('refuses a token whose payload was changed (another key, a later expiry)', async () => {
    const { token } = createShareToken({ secret, key, ttlSeconds: 3600, now: t0 });
    const [body, sig] = token.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    for (const change of [{ k: 'camera-2/2026/12/01/20261201T043000123Z-ab12cd34.jpg' }, { exp: (payload['exp'] as number) + 86400 }]) {
      const forged = `${Buffer.from(JSON.stringify({ ...payload, ...change })).toString('base64url')}.${sig}`;
      expect(await refusal(verifyShareToken(forged, { secret, now: t0, isRevoked: never }))).toBe('bad-signature');
    }
  });

  it('refuses a token signed with another key, and garbage', async () => {
    const { token } = createShareToken({ secret: randomBytes(32), key, ttlSeconds: 3600, now: t0 });
    expect(await refusal(verifyShareToken(token, { secret, now: t0, isRevoked: never }))).toBe('bad-signature');
    for (const junk of ['', 'abc', 'a.b.c', `${'x'.repeat(3000)}.y`, '../../etc.passwd']) {
      expect(await refusal(verifyShareToken(junk, { secret, now: t0, isRevoked: never }))).toMatch(/malformed|bad-signature/);
    }
  });

  it('refuses a revoked token, and asks about its own id', async () => {
    const { token, payload } = createShareToken({ secret, key, ttlSeconds: 3600, now: t0 });
    const asked: string[] = [];
    const revoked = async (id: string): Promise<boolean> => (asked.push(id), id === payload.id);
    expect(await refusal(verifyShareToken(token, { secret, now: t0, isRevoked: revoked }))).toBe('revoked');
    expect(asked).toEqual([payload.id]);
  });

  it('shares only snapshot keys, never thumbnails, revocations or paths that climb', () => {
    for (const bad of ['thumbnails/camera-1/2026/12/01/x.jpg', 'viewer/revoked/00', 'camera-1/../secrets.json', 'camera-1/2026/12/01/x.png']) {
      expect(() => createShareToken({ secret, key: bad, ttlSeconds: 3600, now: t0 })).toThrow(RangeError);
    }
  });

  it('refuses a short signing key', () => {
    expect(() => createShareToken({ secret: randomBytes(16), key, ttlSeconds: 3600, now: t0 })).toThrow(/at least 32/);
  });
});
