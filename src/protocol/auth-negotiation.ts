/**
 * HTTP-style authentication as a client negotiates it, for every protocol that reuses it (VAPIX over
 * HTTP, RFC 7616; RTSP, RFC 2326 §D.1 / RFC 7826 §19.1): the first request goes without credentials,
 * a 401 names the scheme in WWW-Authenticate, the request is sent again answering it, and the
 * accepted scheme is remembered so later requests send Authorization up front (a Digest challenge is
 * reused with the next nonce count). A challenge just answered and refused again is final, unless
 * it says `stale` (once) or the credential source has fresh credentials (once per call).
 *
 * Where Basic may answer (it sends the password readable) is the caller's decision: each protocol
 * knows its transport. Errors are the caller's too: a refusal is returned as a verdict, not thrown,
 * so each protocol words it for its operators.
 */
import { digestAuthorization, parseDigestChallenges, pickChallenge, type DigestChallenge, type DigestCredentials } from './digest.js';

/** Why a 401 ends the call. */
export type AuthRefusal =
  /** The camera refused these credentials after answering its own fresh challenge. */
  | 'credentials'
  /** Only Basic was offered, and the caller said Basic is not safe on this connection. */
  | 'basic-unsafe'
  /** No challenge this client can answer (neither Digest MD5/SHA-256 nor Basic). */
  | 'no-challenge';

export type AuthVerdict = { retry: true } | { retry: false; refusal: AuthRefusal };

/** One call's negotiation, from its first request to its last 401. */
export interface AuthNegotiation {
  /** The credentials of this call (renewed at most once). */
  readonly credentials: DigestCredentials;
  /** The Authorization header for the next request of this call (undefined: send none). */
  authorization(method: string, uri: string): string | undefined;
  /**
   * The server answered 401 with these WWW-Authenticate headers. `basicOver` is where Basic would
   * go (a label the caller reads back from `scheme`), undefined where it must not be sent.
   */
  unauthorized(wwwAuthenticate: string[], basicOver: string | undefined): Promise<AuthVerdict>;
}

export interface NegotiatedScheme {
  /** The Digest challenge accepted last (reused with the next nonce count). */
  digest?: DigestChallenge;
  /** Basic was accepted, over this (the caller's label). */
  basicOver?: string;
}

export class ChallengeAuth {
  private session?: { challenge: DigestChallenge; nc: number };
  private basicOver?: string;

  /** The scheme in use now: the one accepted last, or none yet. */
  get scheme(): NegotiatedScheme {
    return { digest: this.session?.challenge, basicOver: this.basicOver };
  }

  /**
   * Starts one call with `credentials`; `renew` returns fresh ones after a refusal (or the same
   * ones when the source has no others), asked at most once per call.
   */
  begin(credentials: DigestCredentials, renew: (refused: DigestCredentials) => Promise<DigestCredentials> = (c) => Promise.resolve(c)): AuthNegotiation {
    let cred = credentials;
    let fresh = false; // the last request answered a challenge from the 401 just before it
    let staleRetried = false;
    let renewed = false;
    const renewOnce = async (): Promise<boolean> => {
      if (renewed) return false;
      renewed = true;
      const next = await renew(cred);
      if (next.username === cred.username && next.password === cred.password) return false;
      cred = next;
      return true;
    };
    const refuse = (refusal: AuthRefusal): AuthVerdict => {
      this.session = undefined;
      if (refusal !== 'credentials') this.basicOver = undefined;
      return { retry: false, refusal };
    };
    return {
      get credentials() {
        return cred;
      },
      authorization: (method, uri) => this.header(method, uri, cred),
      unauthorized: async (www, basicOver) => {
        const challenge = pickChallenge(parseDigestChallenges(www));
        if (!challenge && www.some((h) => /^\s*basic\b/i.test(h))) {
          this.session = undefined;
          if (basicOver === undefined) return refuse('basic-unsafe');
          if (this.basicOver === undefined) {
            this.basicOver = basicOver;
            return { retry: true };
          }
          return (await renewOnce()) ? { retry: true } : refuse('credentials');
        }
        this.basicOver = undefined;
        if (!challenge) return refuse('no-challenge');
        if (fresh && !(challenge.stale === true && !staleRetried)) {
          // Asked again, answering the challenge just received: one more round trip, not two.
          if (await renewOnce()) {
            this.session = { challenge, nc: 0 };
            staleRetried = false;
            return { retry: true };
          }
          return refuse('credentials');
        }
        if (fresh) staleRetried = true;
        fresh = true;
        this.session = { challenge, nc: 0 };
        return { retry: true };
      },
    };
  }

  private header(method: string, uri: string, cred: DigestCredentials): string | undefined {
    if (this.basicOver !== undefined) return `Basic ${Buffer.from(`${cred.username}:${cred.password}`, 'utf8').toString('base64')}`;
    const s = this.session;
    if (!s) return undefined;
    s.nc += 1;
    return digestAuthorization(s.challenge, cred, { method, uri }, s.nc);
  }
}
