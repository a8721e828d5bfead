/**
 * The negotiation both VAPIX (HTTP) and RTSP clients use. RFC 7616 §3.3: a server answers a correct
 * response with a reused or expired nonce by a new challenge with stale=true, and the client
 * "may wish to simply retry the request with a new encrypted response, without re-prompting the
 * user"; without stale, the credentials were wrong. RFC 7617: Basic sends the password readable.
 * The VAPIX and RTSP suites (vapix/auth.test.ts, rtsp/session.test.ts) test it against servers.
 */
import { describe, expect, it } from 'vitest';
import { ChallengeAuth } from './auth-negotiation.js';

const CRED = { username: 'root', password: 'pass' };
const digest = (nonce: string, stale = false) => [`Digest realm="AXIS_B8A44F000001", nonce="${nonce}", qop="auth"${stale ? ', stale=true' : ''}`];
const BASIC = ['Basic realm="AXIS_B8A44F000001"'];

describe('ChallengeAuth', () => {
  it('answers a fresh challenge once; the same refusal again is final, with stale=true retried once', async () => {
    const auth = new ChallengeAuth();
    const call = auth.begin(CRED);
    expect(call.authorization('GET', '/')).toBeUndefined();
    expect(await call.unauthorized(digest('N1'), undefined)).toEqual({ retry: true });
    expect(call.authorization('GET', '/')).toMatch(/^Digest .*nonce="N1".*nc=00000001/);
    expect(await call.unauthorized(digest('N2', true), undefined)).toEqual({ retry: true });
    expect(call.authorization('GET', '/')).toMatch(/nonce="N2"/);
    expect(await call.unauthorized(digest('N3', true), undefined)).toEqual({ retry: false, refusal: 'credentials' });
    expect(auth.scheme.digest).toBeUndefined();
  });

  it('reuses the accepted challenge with the next nonce count on later calls', async () => {
    const auth = new ChallengeAuth();
    const first = auth.begin(CRED);
    await first.unauthorized(digest('N1'), undefined);
    first.authorization('DESCRIBE', 'rtsp://cam/');
    const second = auth.begin(CRED);
    expect(second.authorization('SETUP', 'rtsp://cam/track1')).toMatch(/nc=00000002/);
  });

  it('Basic only where the caller says it is safe, and a Digest challenge afterwards replaces it', async () => {
    const auth = new ChallengeAuth();
    expect(await auth.begin(CRED).unauthorized(BASIC, undefined)).toEqual({ retry: false, refusal: 'basic-unsafe' });
    const call = auth.begin(CRED);
    expect(await call.unauthorized(BASIC, 'loopback')).toEqual({ retry: true });
    expect(call.authorization('GET', '/')).toBe(`Basic ${Buffer.from('root:pass').toString('base64')}`);
    expect(auth.scheme.basicOver).toBe('loopback');
    // The camera's policy changed to Digest: answered with Digest, never Basic again.
    expect(await call.unauthorized(digest('N1'), 'loopback')).toEqual({ retry: true });
    expect(call.authorization('GET', '/')).toMatch(/^Digest /);
    expect(auth.scheme.basicOver).toBeUndefined();
  });

  it('asks the source for fresh credentials once per call after a refusal, and a header it cannot answer is no-challenge', async () => {
    const auth = new ChallengeAuth();
    const asked: string[] = [];
    const call = auth.begin(CRED, async (refused) => {
      asked.push(refused.password);
      return { username: 'root', password: 'rotated' };
    });
    await call.unauthorized(digest('N1'), undefined);
    expect(await call.unauthorized(digest('N2'), undefined)).toEqual({ retry: true });
    expect(call.credentials.password).toBe('rotated');
    expect(await call.unauthorized(digest('N3'), undefined)).toEqual({ retry: false, refusal: 'credentials' });
    expect(asked).toEqual(['pass']);
    expect(await auth.begin(CRED).unauthorized(['Negotiate abc'], 'loopback')).toEqual({ retry: false, refusal: 'no-challenge' });
  });
});
