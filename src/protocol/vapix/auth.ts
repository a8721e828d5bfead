/**
 * VAPIX authentication: where the credentials come from, and how one call answers the camera's
 * 401 challenges (docs/protocol-vapix.md [VAPIX-auth]). A VapixAuth lives as long as its client and
 * remembers the last accepted challenge, so later calls send Authorization up front; each call
 * negotiates through one AuthAttempt.
 */
import { RFC_2069_REFUSED, digestAuthorization, parseDigestChallenges, pickChallenge, type DigestChallenge, type DigestCredentials } from '../digest.js';
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
  refused(wwwAuthenticate: string[]): Promise<void>;
}

export class VapixAuth {
  /** Last accepted challenge, reused (with the next nonce count) to save a round trip per call. */
  private session?: { challenge: DigestChallenge; nc: number };
  /** The camera offered only Basic, which basicOnLoopback allowed: send it up front. */
  private basic = false;

  constructor(
    private readonly base: URL,
    private readonly credentials: VapixCredentialSource,
  ) {}

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
      refused: async (www) => {
        const offered = parseDigestChallenges(www);
        const challenge = pickChallenge(offered);
        if (!challenge && this.basicAllowed(www)) {
          this.session = undefined;
          if (!this.basic) {
            this.basic = true;
            return;
          }
          if (await renew()) return;
          throw refusedError();
        }
        if (!challenge && offered.some((c) => c.qop === undefined)) {
          this.session = undefined;
          throw new VapixError('auth', `camera at ${this.base.origin}: ${RFC_2069_REFUSED}`, { status: 401 });
        }
        if (!challenge) {
          this.session = undefined;
          throw new VapixError(
            'auth',
            `camera at ${this.base.origin} answered 401 without a Digest challenge this client supports ` +
              `(WWW-Authenticate: ${(www.length > 0 ? www.join(', ') : 'none').slice(0, 120)}): enable Digest authentication on the camera (Basic alone is refused over HTTP)`,
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

  /** Basic only where the credential source allows it, the camera offers it, and the host is loopback. */
  private basicAllowed(www: string[]): boolean {
    return (
      this.credentials.basicOnLoopback === true &&
      /^127\.\d+\.\d+\.\d+$/.test(this.base.hostname) &&
      this.base.protocol === 'http:' &&
      www.some((h) => /^\s*basic\b/i.test(h))
    );
  }
}
