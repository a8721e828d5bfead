import { CognitoJwtVerifier, JwtRsaVerifier } from 'aws-jwt-verify';
import type { Fetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';

/**
 * Who is calling: every API route but a share link needs `Authorization: Bearer {access token}`,
 * verified by aws-jwt-verify (signature against the issuer's JWKS, issuer, expiry, client id, token
 * use). In AWS the issuer is the Cognito user pool (CognitoJwtVerifier); in devcloud it is the
 * local stand-in issuer (JwtRsaVerifier for a generic OIDC issuer). The API code is the same.
 */

export interface Caller {
  username: string;
}

export interface TokenVerifier {
  /** The caller, or a rejection when the token is missing, forged, expired or for another client. */
  verify(token: string): Promise<Caller>;
}

function callerOf(payload: Record<string, unknown>): Caller {
  const name = payload['username'] ?? payload['cognito:username'] ?? payload['sub'];
  return { username: typeof name === 'string' ? name : 'unknown' };
}

export function cognitoVerifier(opts: { userPoolId: string; clientId: string }): TokenVerifier {
  const verifier = CognitoJwtVerifier.create({ userPoolId: opts.userPoolId, clientId: opts.clientId, tokenUse: 'access' });
  return { verify: async (token) => callerOf(await verifier.verify(token)) };
}

/**
 * aws-jwt-verify fetches JWKS over https only; devcloud's issuer listens on plain http on 127.0.0.1,
 * so its verifier gets a fetcher that allows exactly that (and nothing else).
 */
const loopbackFetcher: Fetcher = {
  async fetch(uri) {
    const url = new URL(uri);
    if (url.protocol !== 'https:' && url.hostname !== '127.0.0.1') throw new Error(`refusing to fetch a JWKS over plain http from ${url.host}`);
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`JWKS ${uri}: HTTP ${res.status}`);
    return res.arrayBuffer();
  },
};

/** Access tokens of a generic issuer (devcloud's): `client_id` claim, `token_use: access`, like Cognito's. */
export function issuerVerifier(opts: { issuer: string; clientId: string; jwksUri: string }): TokenVerifier {
  const verifier = JwtRsaVerifier.create(
    {
      issuer: opts.issuer,
      jwksUri: opts.jwksUri,
      audience: null,
      customJwtCheck: ({ payload }) => {
        if (payload['client_id'] !== opts.clientId) throw new Error('token was issued to another client');
        if (payload['token_use'] !== 'access') throw new Error('not an access token');
      },
    },
    { jwksCache: new SimpleJwksCache({ fetcher: loopbackFetcher }) },
  );
  return { verify: async (token) => callerOf(await verifier.verify(token)) };
}

/** The token of an `Authorization: Bearer ...` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(header?.trim() ?? '');
  return m?.[1];
}
