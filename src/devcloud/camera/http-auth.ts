/**
 * How the simulated camera asks for credentials on each of its listeners, per firmware profile
 * (profiles.ts): Digest shaped like the firmware's (algorithms, opaque, the algorithm parameter,
 * nonce reuse) or Basic only (AXIS OS 12 over HTTPS). Both behind the DigestVerifier interface, so
 * the request handler does not care which.
 */
import { createDigestVerifier, type DigestAlgorithm, type DigestVerifier } from '../../protocol/digest.js';

export type AuthOffer =
  | { scheme: 'basic' }
  | {
      scheme: 'digest';
      /** Offered in this order. */
      algorithms: DigestAlgorithm[];
      opaque: boolean;
      /** false: challenges carry no `algorithm=` (which means MD5). */
      algorithmParam: boolean;
      /** true: a nonce answers one request; its reuse gets `stale=true`. */
      singleUseNonce: boolean;
    };

/** What the plain HTTP listener and the HTTPS listener each ask for. */
export interface CameraAuthPolicy {
  http: AuthOffer;
  https: AuthOffer;
}

export function createVerifier(offer: AuthOffer, realm: string, users: Record<string, string>): DigestVerifier {
  if (offer.scheme === 'basic') return basicVerifier(realm, users);
  return createDigestVerifier({
    realm,
    users,
    algorithms: offer.algorithms,
    opaque: offer.opaque,
    algorithmParam: offer.algorithmParam,
    singleUseNonce: offer.singleUseNonce,
  });
}

/** HTTP Basic with the verifier's interface, for a listener that offers nothing else. */
export function basicVerifier(realm: string, users: Record<string, string>): DigestVerifier {
  return {
    challenges: () => [`Basic realm="${realm}"`],
    verify(authorization) {
      const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization ?? '');
      if (!m) return { ok: false, stale: false };
      const text = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
      const colon = text.indexOf(':');
      const username = text.slice(0, colon);
      const expected = colon > 0 && Object.hasOwn(users, username) ? users[username] : undefined;
      return expected !== undefined && expected === text.slice(colon + 1) ? { ok: true, username } : { ok: false, stale: false };
    },
  };
}
