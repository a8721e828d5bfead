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
import { ChallengeAuth, type AuthRefusal } from '../auth-negotiation.js';
import type { DigestChallenge, DigestCredentials } from '../digest.js';
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
  private readonly negotiation = new ChallengeAuth();

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
    const { digest, basicOver } = this.negotiation.scheme;
    if (basicOver === 'verified HTTPS' || basicOver === 'loopback') return { scheme: 'basic', over: basicOver };
    if (digest) return { scheme: 'digest', algorithm: digest.algorithm, qop: digest.qop !== undefined };
    return { scheme: 'none' };
  }

  /** Starts the negotiation of one call with the source's current credentials. */
  async begin(): Promise<AuthAttempt> {
    const call = this.negotiation.begin(await this.credentials.current(), (refused) => this.credentials.renew(refused));
    return {
      get username() {
        return call.credentials.username;
      },
      authorization: (method, uri) => call.authorization(method, uri),
      refused: async (www, connection) => {
        const verdict = await call.unauthorized(www, this.basicSafeOver(connection));
        if (verdict.retry) return;
        throw new VapixError('auth', `camera at ${this.base.origin} ${this.refusal(verdict.refusal, www, call.credentials.username)}`, { status: 401 });
      },
    };
  }

  private refusal(refusal: AuthRefusal, www: string[], username: string): string {
    switch (refusal) {
      case 'credentials':
        return `refused the credentials of user "${username}" (HTTP 401): ${this.credentials.refusedHint}`;
      case 'basic-unsafe':
        return this.basicRefusal();
      case 'no-challenge':
        return (
          `answered 401 without a challenge this client can answer ` +
          `(WWW-Authenticate: ${(www.length > 0 ? www.join(', ') : 'none').slice(0, 160)}): set the camera's HTTP authentication policy to Digest (Network.HTTP.AuthenticationPolicy), or reach it over HTTPS`
        );
    }
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
