/**
 * Sign-in in the browser: OAuth 2.0 authorization code flow with PKCE (S256) against the issuer named
 * in /config.json (Cognito's domain in AWS, devcloud's stand-in locally). The access token lives in
 * sessionStorage only: it dies with the tab, and no other site can read it.
 */

export interface AppConfig {
  authorizeUrl: string;
  tokenUrl: string;
  clientId: string;
  /** Where the API is; '' for the same origin (devcloud). */
  apiUrl: string;
  /** devcloud only: how to watch live when this browser does not trust its signalling certificate (live-player.ts). */
  liveSignallingHelp?: { text: string; command: string };
}

const TOKEN = 'cloudcam.accessToken';
const EXPIRES = 'cloudcam.accessTokenExpires';
const VERIFIER = 'cloudcam.pkceVerifier';
const STATE = 'cloudcam.oauthState';

function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(): string {
  return b64url(crypto.getRandomValues(new Uint8Array(32)));
}

export function redirectUri(): string {
  return `${location.origin}/callback`;
}

export function accessToken(): string | undefined {
  const token = sessionStorage.getItem(TOKEN);
  const expires = Number(sessionStorage.getItem(EXPIRES) ?? 0);
  return token !== null && Date.now() < expires ? token : undefined;
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(EXPIRES);
}

export async function signIn(config: AppConfig): Promise<void> {
  const verifier = randomString();
  const state = randomString();
  sessionStorage.setItem(VERIFIER, verifier);
  sessionStorage.setItem(STATE, state);
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  const url = new URL(config.authorizeUrl);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: 'openid',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
}

/** On /callback: trades the code for tokens (only if the state is the one this tab sent). */
export async function completeSignIn(config: AppConfig, params: URLSearchParams): Promise<void> {
  const verifier = sessionStorage.getItem(VERIFIER);
  const state = sessionStorage.getItem(STATE);
  sessionStorage.removeItem(VERIFIER);
  sessionStorage.removeItem(STATE);
  const code = params.get('code');
  if (!code || !verifier || !state || params.get('state') !== state) throw new Error('This sign-in did not start here; sign in again.');
  const res = await fetch(config.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri(), client_id: config.clientId, code_verifier: verifier }),
  });
  if (!res.ok) throw new Error(`Sign-in failed (${res.status}); sign in again.`);
  const tokens = (await res.json()) as { access_token: string; expires_in: number };
  sessionStorage.setItem(TOKEN, tokens.access_token);
  sessionStorage.setItem(EXPIRES, String(Date.now() + (tokens.expires_in - 30) * 1000));
}
