/**
 * VAPIX authentication as Axis documents it (developer.axis.com/vapix/authentication;
 * docs/protocol-vapix.md [VAPIX-auth]): the first request goes without credentials; the camera's 401
 * names the scheme in WWW-Authenticate and the request is sent again answering it. Digest (MD5 or
 * SHA-256, with or without qop, opaque and algorithm) is answered on any connection; Basic, which
 * sends the password readable, only where nobody can read it: over HTTPS whose certificate was
 * verified (pinned or CA) before any request byte was written, or to the camera's own loopback
 * virtual host for a service account. A VapixAuth lives as long as its client and remembers the
 * accepted scheme, so later calls send Authorization up front; each call negotiates through one
 * AuthAttempt.
 */
import { digestAuthorization, parseDigestChallenges, pickChallenge, type DigestChallenge, type DigestCredentials } from '../digest.js';
import { VapixError } from './errors.js';

/**
 * Where the credentials come from when they are not a fixed user and password: the camera's D-Bus
 * service account (service-account.ts) hands out credentials that live in memory only and can be
 * asked for again when the camera stops accepting them.
 */
export interface VapixCredentialSource {
  /** The credentials to use now; rejects with a VapixError('auth') naming the fix when there are none. */
  current(): Promise<DigestCredentials>;
  /** Called once per call after the camera refused `refused`: fresh credentials to retry with. */
  renew(refused: DigestCredentials): Promise<DigestCredentials>;
  /** What an operator should check when the camera refuses them (ends the 401 message). */
  readonly refusedHint: string;
  /**
   * Basic authentication may answer a camera that offers no Digest, but only to a loopback host:
   * set for the service account, whose credentials are valid only on the camera's local virtual
   * host (Axis's own example calls it with Basic), so nothing crosses a network.
   */
  readonly basicOnLoopback?: boolean;
}

/** A fixed configured account: nothing to renew, so a refusal is final. */
export function fixedCredentials(cred: DigestCredentials): VapixCredentialSource {
  return {
    current: () => Promise.resolve(cred),
    renew: () => Promise.resolve(cred),
    refusedHint: 'check camera.username and camera.password; the user needs the operator role (or admin)',
  };
}

/** The scheme the camera accepted last, for `setup check` and messages. */
export type AuthScheme =
  | { scheme: 'none' }
  | { scheme: 'digest'; algorithm: DigestChallenge['algorithm']; qop: boolean }
  | { scheme: 'basic'; over: 'verified HTTPS' | 'loopback' };

export function describeAuthScheme(a: AuthScheme): string {
  switch (a.scheme) {
    case 'none':
      return 'none asked (the camera answered without authentication)';
    case 'digest':
      return `Digest ${a.algorithm}${a.qop ? ' (qop=auth)' : ' (without qop, RFC 2069)'}`;
    case 'basic':
      return a.over === 'verified HTTPS' ? 'Basic over HTTPS (certificate verified before anything was sent)' : 'Basic to the camera\'s loopback host';
  }
}

/** What the client knows about the connection a 401 came over. */
export interface RefusalContext {
  /** The reply came over TLS whose certificate the client's agent verified (pinned or CA). */
  tlsVerified: boolean;
}

/** One call's negotiation: the header to send, then what to do with each 401. */
export interface AuthAttempt {
  /** The user of this attempt, for messages. */
  readonly username: string;
  /** The Authorization header for the next request of this call (undefined: send none). */
  authorization(method: string, uri: string): string | undefined;
  /**
   * The camera answered 401 with these WWW-Authenticate headers: resolves when the request should
   * be sent again (with the next authorization()), rejects with a VapixError('auth') when not.
   */
  refused(wwwAuthenticate: string[], connection: RefusalContext): Promise<void>;
}

export class VapixAuth {
  /** Last accepted challenge, reused (with the next nonce count) to save a round trip per call. */
  private session?: { challenge: DigestChallenge; nc: number };
  /** The camera offered only Basic where Basic is safe: send it up front. */
  private basic?: 'verified HTTPS' | 'loopback';

  /**
   * tlsVerifying: the client's https agent refuses certificates it cannot verify (rejectUnauthorized
   * is not off), so every connection it makes was checked before a request byte was written.
   */
  constructor(
    private readonly base: URL,
    private readonly credentials: VapixCredentialSource,
    private readonly tlsVerifying: boolean,
  ) {}

  /** The scheme in use now: the one the camera accepted last, or none yet. */
  get scheme(): AuthScheme {
    if (this.basic) return { scheme: 'basic', over: this.basic };
    if (this.session) return { scheme: 'digest', algorithm: this.session.challenge.algorithm, qop: this.session.challenge.qop !== undefined };
    return { scheme: 'none' };
  }

  /** Starts the negotiation of one call with the source's current credentials. */
  async begin(): Promise<AuthAttempt> {
    let cred = await this.credentials.current();
    let fresh = false; // the last request answered a challenge from the 401 just before it
    let staleRetried = false;
    let renewed = false;
    const refusedError = () =>
      new VapixError('auth', `camera at ${this.base.origin} refused the credentials of user "${cred.username}" (HTTP 401): ${this.credentials.refusedHint}`, { status: 401 });
    /** Fresh credentials once per call; false when the source has none other than `cred`. */
    const renew = async (): Promise<boolean> => {
      if (renewed) return false;
      renewed = true;
      const next = await this.credentials.renew(cred);
      if (next.username === cred.username && next.password === cred.password) return false;
      cred = next;
      return true;
    };
    return {
      get username() {
        return cred.username;
      },
      authorization: (method, uri) => this.header(method, uri, cred),
      refused: async (www, connection) => {
        const challenge = pickChallenge(parseDigestChallenges(www));
        const basicOffered = www.some((h) => /^\s*basic\b/i.test(h));
        if (!challenge && basicOffered) {
          this.session = undefined;
          const over = this.basicSafeOver(connection);
          if (over === undefined) {
            this.basic = undefined;
            throw new VapixError('auth', `camera at ${this.base.origin} ${this.basicRefusal()}`, { status: 401 });
          }
          if (this.basic === undefined) {
            this.basic = over;
            return;
          }
          if (await renew()) return;
          throw refusedError();
        }
        this.basic = undefined;
        if (!challenge) {
          this.session = undefined;
          throw new VapixError(
            'auth',
            `camera at ${this.base.origin} answered 401 without a challenge this client can answer ` +
              `(WWW-Authenticate: ${(www.length > 0 ? www.join(', ') : 'none').slice(0, 160)}): set the camera's HTTP authentication policy to Digest (Network.HTTP.AuthenticationPolicy), or reach it over HTTPS`,
            { status: 401 },
          );
        }
        if (fresh && !(challenge.stale && !staleRetried)) {
          // Asked again, answering the challenge just received: one more round trip, not two.
          if (await renew()) {
            this.session = { challenge, nc: 0 };
            staleRetried = false;
            return;
          }
          this.session = undefined;
          throw refusedError();
        }
        if (fresh) staleRetried = true;
        fresh = true;
        this.session = { challenge, nc: 0 };
      },
    };
  }

  private header(method: string, uri: string, cred: DigestCredentials): string | undefined {
    if (this.basic) return `Basic ${Buffer.from(`${cred.username}:${cred.password}`, 'utf8').toString('base64')}`;
    const s = this.session;
    if (!s) return undefined;
    s.nc += 1;
    return digestAuthorization(s.challenge, cred, { method, uri }, s.nc);
  }

  /**
   * Where Basic may answer: over HTTPS only when this connection's certificate was verified and the
   * agent verifies every connection (so the password goes nowhere a pin or CA check has not passed);
   * over plain HTTP only to a loopback host for a source that allows it (the service account).
   */
  private basicSafeOver(connection: RefusalContext): 'verified HTTPS' | 'loopback' | undefined {
    if (this.base.protocol === 'https:') return this.tlsVerifying && connection.tlsVerified ? 'verified HTTPS' : undefined;
    if (this.credentials.basicOnLoopback === true && /^127\.\d+\.\d+\.\d+$/.test(this.base.hostname)) return 'loopback';
    return undefined;
  }

  /** Why Basic was not answered, and the fix, in an operator's words. */
  private basicRefusal(): string {
    if (this.base.protocol === 'https:') {
      return 'offers only Basic authentication, and its HTTPS certificate was not verified, so the password was not sent: pin the camera certificate (`cloudcam camera add ADDRESS`) or give the CA that signed it';
    }
    return (
      'offers only Basic authentication, which over plain HTTP would send the password readable to anyone on the network; nothing was sent. ' +
      'Reach the camera over HTTPS (`cloudcam camera add ADDRESS` without --insecure-http), or set its HTTP authentication policy to Digest (Network.HTTP.AuthenticationPolicy)'
    );
  }
}
