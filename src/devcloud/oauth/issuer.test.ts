import { createHash, randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issuerVerifier } from '../../viewer/api/auth.js';
import { createLogger } from '../../lib/log.js';
import { startIssuer, type Issuer } from './issuer.js';

/** devcloud's stand-in for Cognito's OAuth endpoints: the code flow with PKCE, and what it refuses. */

const CLIENT = 'viewer-test';
const REDIRECT = 'http://127.0.0.1:9/callback';
const b64url = (b: Buffer): string => b.toString('base64url');

let issuer: Issuer;
const logged: string[] = [];
beforeAll(async () => {
  const destination = new PassThrough();
  destination.on('data', (chunk: Buffer) => logged.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
  const log = createLogger({ name: 'issuer-test', destination });
  issuer = await startIssuer({ clientId: CLIENT, redirectUris: () => [REDIRECT], username: 'viewer', password: 'right-password', log });
});
afterAll(async () => {
  await issuer.stop();
});

function pkce(): { verifier: string; challenge: string } {
  const verifier = b64url(randomBytes(32));
  return { verifier, challenge: b64url(createHash('sha256').update(verifier).digest()) };
}

async function login(fields: Record<string, string>): Promise<Response> {
  return fetch(`${issuer.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: CLIENT, redirect_uri: REDIRECT, state: 's1', code_challenge_method: 'S256', username: 'viewer', password: 'right-password', ...fields }),
  });
}

async function token(fields: Record<string, string>): Promise<Response> {
  return fetch(`${issuer.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', client_id: CLIENT, redirect_uri: REDIRECT, ...fields }),
  });
}

async function codeFor(challenge: string): Promise<string> {
  const res = await login({ code_challenge: challenge });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
  expect(location.searchParams.get('state')).toBe('s1');
  return location.searchParams.get('code')!;
}

describe('devcloud OAuth issuer', () => {
  it('code flow with PKCE gives an access token the API verifier accepts, once', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(challenge);
    const res = await token({ code, code_verifier: verifier });
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as { access_token: string; token_type: string; expires_in: number };
    expect(tokens.token_type).toBe('Bearer');
    const caller = await issuerVerifier({ issuer: issuer.url, clientId: CLIENT, jwksUri: issuer.jwksUri }).verify(tokens.access_token);
    expect(caller.username).toBe('viewer');
    expect((await token({ code, code_verifier: verifier })).status).toBe(400); // a code works once
  });

  it('refuses a code redeemed with the wrong verifier, for another redirect URI, or another client', async () => {
    const changes: Record<string, string>[] = [{ code_verifier: 'x'.repeat(43) }, { redirect_uri: 'http://127.0.0.1:9/other' }, { client_id: 'someone-else' }];
    for (const change of changes) {
      const { verifier, challenge } = pkce();
      const code = await codeFor(challenge);
      const res = await token({ code, code_verifier: verifier, ...change });
      expect(res.status, JSON.stringify(change)).toBe(400);
      expect(await res.json()).toEqual({ error: 'invalid_grant' });
    }
  });

  it('refuses sign-in without PKCE, to an unregistered redirect URI, or with a wrong password', async () => {
    const authorize = (q: Record<string, string>) => fetch(`${issuer.url}/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: CLIENT, redirect_uri: REDIRECT, ...q }).toString()}`);
    expect((await authorize({})).status).toBe(400);
    expect((await authorize({ code_challenge: 'abc', code_challenge_method: 'plain' })).status).toBe(400);
    expect((await authorize({ code_challenge: 'abc', code_challenge_method: 'S256', redirect_uri: 'https://evil.example/cb' })).status).toBe(400);
    expect((await authorize({ code_challenge: 'abc', code_challenge_method: 'S256' })).status).toBe(200);
    expect((await login({ code_challenge: pkce().challenge, redirect_uri: 'https://evil.example/cb' })).status).toBe(400);
    const wrong = await login({ code_challenge: pkce().challenge, password: 'wrong' });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Incorrect username or password.');
  });

  it('answers CORS on the token endpoint only for the registered origin', async () => {
    const asFrom = (origin: string) => fetch(`${issuer.url}/oauth2/token`, { method: 'POST', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=authorization_code' });
    expect((await asFrom('http://127.0.0.1:9')).headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:9');
    expect((await asFrom('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('logs a failed sign-in with a count, the client id and the address, never the submitted username', async () => {
    // What a person types into the username field by mistake is often their password (issue 20, item 7).
    const typedPassword = 'Tr0ub4dor-typed-as-username';
    const before = logged.length;
    expect((await login({ code_challenge: pkce().challenge, username: typedPassword, password: 'also-wrong' })).status).toBe(401);
    expect((await login({ code_challenge: pkce().challenge, username: typedPassword, password: 'also-wrong' })).status).toBe(401);
    const lines = logged.slice(before);
    expect(lines.join('\n')).not.toContain(typedPassword);
    expect(lines.join('\n')).not.toContain('also-wrong');
    const refusals = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'viewer sign-in refused: wrong username or password');
    expect(refusals).toHaveLength(2);
    expect(refusals[1]).toMatchObject({ clientId: CLIENT, remoteAddress: expect.stringMatching(/127\.0\.0\.1/) as unknown });
    expect(Number(refusals[1]!['failedSignIns'])).toBe(Number(refusals[0]!['failedSignIns']) + 1);
  });
});
