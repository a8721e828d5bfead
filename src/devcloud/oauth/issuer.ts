import { createHash, generateKeyPair, randomBytes, sign, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/log.js';
import { readBoundedBody } from '../../lib/read-body.js';

/**
 * devcloud's stand-in for the Cognito user pool's OAuth 2.0 endpoints, so the viewer signs in locally
 * the way it does in AWS: authorization code flow with PKCE (S256), one user, RS256 access tokens with
 * Cognito's claims (`token_use: access`, `client_id`, `username`), a JWKS the API verifies them with.
 *   GET  /.well-known/openid-configuration, /.well-known/jwks.json
 *   GET  /oauth2/authorize  the sign-in page (Username, Password, Sign in)
 *   POST /login             the sign-in form -> 302 to the registered redirect URI with ?code&state
 *   POST /oauth2/token      code + code_verifier -> tokens
 * Stricter than Cognito where that costs nothing: PKCE is required, codes live 60 s and work once.
 */

export interface IssuerOptions {
  clientId: string;
  /** Exact redirect URIs the client may use (Cognito's "allowed callback URLs"). */
  redirectUris: () => readonly string[];
  username: string;
  password: string;
  accessTokenSeconds?: number;
  now?: () => number;
  log?: Logger;
}

export interface Issuer {
  readonly url: string;
  readonly jwksUri: string;
  /** Signs an access token as the issuer would (tests use it for expired and foreign tokens). */
  accessToken(claims?: Record<string, unknown>, lifeSeconds?: number): string;
  stop(): Promise<void>;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  expiresAt: number;
}

const CODE_MS = 60_000;
const MAX_FORM = 16 * 1024;

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const body = await readBoundedBody(req, MAX_FORM);
  if (body === undefined) throw new Error('form over 16 KB');
  return new URLSearchParams(body.toString('utf8'));
}

function loginPage(params: URLSearchParams, error?: string): string {
  const hidden = ['client_id', 'redirect_uri', 'state', 'code_challenge', 'code_challenge_method', 'scope']
    .map((n) => `<input type="hidden" name="${n}" value="${escapeHtml(params.get(n) ?? '')}">`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - cloudcam</title><style>body{font:16px system-ui,sans-serif;max-width:22rem;margin:3rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=password]{width:100%;padding:.6rem;font:inherit;box-sizing:border-box}
button{margin-top:1rem;padding:.6rem 1.2rem;font:inherit}.error{color:#a00}</style></head><body>
<h1>Sign in to cloudcam</h1>${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/login">${hidden}
<label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></body></html>`;
}

export async function startIssuer(opts: IssuerOptions): Promise<Issuer> {
  const now = opts.now ?? Date.now;
  const accessSeconds = opts.accessTokenSeconds ?? 3600;
  // A fresh key per start, made off the event loop (RSA key generation takes tens of milliseconds).
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const kid = randomBytes(8).toString('hex');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const codes = new Map<string, PendingCode>();
  let url = '';

  function jwt(claims: Record<string, unknown>): string {
    const head = b64url(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' }));
    const body = b64url(JSON.stringify(claims));
    return `${head}.${body}.${b64url(sign('sha256', Buffer.from(`${head}.${body}`), privateKey))}`;
  }

  function accessToken(claims: Record<string, unknown> = {}, lifeSeconds = accessSeconds): string {
    const iat = Math.floor(now() / 1000);
    return jwt({
      sub: opts.username,
      iss: url,
      client_id: opts.clientId,
      token_use: 'access',
      scope: 'openid',
      auth_time: iat,
      iat,
      exp: iat + lifeSeconds,
      jti: randomBytes(12).toString('hex'),
      username: opts.username,
      ...claims,
    });
  }

  function checkClient(params: URLSearchParams): string | undefined {
    if (params.get('client_id') !== opts.clientId) return 'unknown client_id';
    if (!opts.redirectUris().includes(params.get('redirect_uri') ?? '')) return 'redirect_uri is not registered for this client';
    return undefined;
  }

  function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  }
  const sendJson = (res: ServerResponse, status: number, body: unknown): void => send(res, status, 'application/json', JSON.stringify(body));

  /** Failed sign-ins since start: the log's only trace of what was submitted. */
  let failedSignIns = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', url);
    const route = `${req.method ?? ''} ${u.pathname}`;
    switch (route) {
      case 'GET /.well-known/openid-configuration':
        return sendJson(res, 200, {
          issuer: url,
          authorization_endpoint: `${url}/oauth2/authorize`,
          token_endpoint: `${url}/oauth2/token`,
          jwks_uri: `${url}/.well-known/jwks.json`,
          response_types_supported: ['code'],
          code_challenge_methods_supported: ['S256'],
          id_token_signing_alg_values_supported: ['RS256'],
        });
      case 'GET /.well-known/jwks.json':
        return sendJson(res, 200, { keys: [jwk] });
      case 'GET /oauth2/authorize': {
        const bad = checkClient(u.searchParams);
        if (bad) return send(res, 400, 'text/plain', `${bad}\n`);
        if (u.searchParams.get('response_type') !== 'code') return send(res, 400, 'text/plain', 'response_type must be code\n');
        if (u.searchParams.get('code_challenge_method') !== 'S256' || !u.searchParams.get('code_challenge')) {
          return send(res, 400, 'text/plain', 'PKCE is required: code_challenge with code_challenge_method=S256\n');
        }
        return send(res, 200, 'text/html; charset=utf-8', loginPage(u.searchParams));
      }
      case 'POST /login': {
        const form = await readForm(req);
        const bad = checkClient(form);
        if (bad) return send(res, 400, 'text/plain', `${bad}\n`);
        const challenge = form.get('code_challenge') ?? '';
        if (form.get('code_challenge_method') !== 'S256' || challenge === '') return send(res, 400, 'text/plain', 'PKCE is required\n');
        if (!sameSecret(form.get('username') ?? '', opts.username) || !sameSecret(form.get('password') ?? '', opts.password)) {
          // Never the submitted username: a password typed into the wrong field would land in the log.
          failedSignIns += 1;
          opts.log?.warn({ failedSignIns, clientId: opts.clientId, remoteAddress: req.socket.remoteAddress }, 'viewer sign-in refused: wrong username or password');
          return send(res, 401, 'text/html; charset=utf-8', loginPage(form, 'Incorrect username or password.'));
        }
        const code = randomBytes(24).toString('base64url');
        const redirectUri = form.get('redirect_uri')!;
        codes.set(code, { clientId: opts.clientId, redirectUri, challenge, expiresAt: now() + CODE_MS });
        const target = new URL(redirectUri);
        target.searchParams.set('code', code);
        const state = form.get('state');
        if (state) target.searchParams.set('state', state);
        return send(res, 302, 'text/plain', '', { location: target.toString() });
      }
      case 'POST /oauth2/token': {
        // The app calls the token endpoint from the browser (as with Cognito): CORS for the client's own origins only.
        const origin = req.headers.origin;
        if (origin !== undefined && opts.redirectUris().some((u) => new URL(u).origin === origin)) {
          res.setHeader('access-control-allow-origin', origin);
          res.setHeader('vary', 'Origin');
        }
        const form = await readForm(req);
        if (form.get('grant_type') !== 'authorization_code') return sendJson(res, 400, { error: 'unsupported_grant_type' });
        const code = form.get('code') ?? '';
        const pending = codes.get(code);
        codes.delete(code);
        const verifier = form.get('code_verifier') ?? '';
        if (
          !pending ||
          pending.expiresAt < now() ||
          pending.clientId !== form.get('client_id') ||
          pending.redirectUri !== form.get('redirect_uri') ||
          b64url(createHash('sha256').update(verifier).digest()) !== pending.challenge
        ) {
          return sendJson(res, 400, { error: 'invalid_grant' });
        }
        const access = accessToken();
        const iat = Math.floor(now() / 1000);
        const id = jwt({ sub: opts.username, iss: url, aud: opts.clientId, token_use: 'id', 'cognito:username': opts.username, iat, exp: iat + accessSeconds });
        return sendJson(res, 200, { access_token: access, id_token: id, token_type: 'Bearer', expires_in: accessSeconds });
      }
      default:
        return send(res, 404, 'text/plain', `no route ${route}\n`);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      opts.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'issuer request failed');
      if (!res.headersSent) send(res, 400, 'text/plain', 'bad request\n');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    jwksUri: `${url}/.well-known/jwks.json`,
    accessToken,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
