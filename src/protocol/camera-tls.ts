/**
 * How a client trusts a camera's HTTPS certificate. Axis cameras ship with a self-signed certificate
 * (no CA vouches for it), so the field tools pin it: the SHA-256 fingerprint seen on first contact
 * (trust on first use, confirmed by a person or given by a script) is stored, and every later TLS
 * handshake must present exactly that certificate. The check runs inside the handshake
 * (`rejectUnauthorized` with the pinned certificate as the only trust anchor, then
 * `checkServerIdentity` comparing fingerprints), so no request byte, credential or body is written
 * to a camera that fails it. A camera with a certificate from a CA is verified the ordinary way
 * against that CA, host name included.
 */
import { X509Certificate } from 'node:crypto';
import { Agent as HttpsAgent } from 'node:https';
import { connect, type PeerCertificate } from 'node:tls';
import { isIP } from 'node:net';

/** What a person needs to decide whether a certificate is their camera's. */
export interface PresentedCertificate {
  /** Upper-case hex pairs joined by colons, as node and browsers show it. */
  fingerprint256: string;
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  selfSigned: boolean;
  certificatePem: string;
}

/** A pin as stored with a camera. */
export interface CertificatePin {
  fingerprint256: string;
  certificatePem: string;
}

/** The certificate presented differs from the pinned one. */
export class CertificatePinError extends Error {
  readonly code = 'ERR_CAMERA_CERT_PIN_MISMATCH';
  constructor(
    readonly pinned: string,
    readonly presented: string,
  ) {
    super(`the camera presented certificate SHA256 ${presented}, not the pinned ${pinned}`);
    this.name = 'CertificatePinError';
  }
}

/** "aa:bb..." or "AABB..." (64 hex digits, any case, colons optional) -> "AA:BB:...". */
export function normaliseFingerprint(input: string): string {
  const hex = input.trim().replace(/^sha-?256[:= ]\s*/i, '').replace(/[:\s]/g, '');
  if (!/^[0-9a-f]{64}$/i.test(hex)) {
    throw new RangeError(`"${input}" is not a SHA-256 fingerprint: give 64 hex digits, with or without colons (e.g. as the camera's web page or \`openssl x509 -fingerprint -sha256\` shows it)`);
  }
  return hex.toUpperCase().match(/../g)!.join(':');
}

function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}

export function describeCertificate(pem: string): PresentedCertificate {
  const cert = new X509Certificate(pem);
  return {
    fingerprint256: cert.fingerprint256,
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
    // Not checkIssued: OpenSSL also wants keyCertSign there, which a server's own certificate lacks.
    selfSigned: cert.subject === cert.issuer && cert.verify(cert.publicKey),
    certificatePem: cert.toString(),
  };
}

function pemOf(peer: PeerCertificate): string {
  return new X509Certificate(peer.raw).toString();
}

/**
 * Opens a TLS connection, reads the certificate the camera presents, and closes it without sending
 * a single byte of HTTP: what first contact shows a person before anything is trusted.
 */
export function fetchPresentedCertificate(baseUrl: string, timeoutMs: number): Promise<PresentedCertificate> {
  const url = new URL(baseUrl);
  if (url.protocol !== 'https:') return Promise.reject(new RangeError(`${baseUrl} is not an https:// URL`));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port: Number(url.port || 443),
      // SNI only for names (RFC 6066 forbids IP literals); the camera picks its certificate by it.
      ...(isIP(host) ? {} : { servername: host }),
      // Only to look: this connection carries no request and is closed as soon as the certificate is read.
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      socket.destroy();
      if (!peer.raw) reject(new Error(`the camera at ${url.origin} presented no certificate`));
      else resolve(describeCertificate(pemOf(peer)));
    });
    socket.once('timeout', () => socket.destroy(new Error(`no TLS handshake with ${url.origin} within ${timeoutMs} ms`)));
    socket.once('error', reject);
  });
}

/**
 * An https.Agent that accepts only the pinned certificate: it is the sole trust anchor (so OpenSSL
 * refuses any other before our code runs), and checkServerIdentity (which replaces the host name
 * check: a pinned camera is known by its certificate, not by the name or address it is reached at)
 * compares the fingerprint. Both happen before the socket is handed to the request.
 */
export function pinnedAgent(pin: CertificatePin): HttpsAgent {
  const expected = normaliseFingerprint(pin.fingerprint256);
  return new HttpsAgent({
    keepAlive: true,
    ca: pin.certificatePem,
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) => (cert.fingerprint256 === expected ? undefined : new CertificatePinError(expected, cert.fingerprint256)),
  });
}

/** An https.Agent that verifies the camera against the given CA(s) and its host name, as browsers do. */
export function caAgent(caPem: string): HttpsAgent {
  return new HttpsAgent({ keepAlive: true, ca: caPem, rejectUnauthorized: true });
}

/** OpenSSL's verification codes (as node reports them) that mean "not a certificate we trust". */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/**
 * What a TLS failure means, in words an operator can act on; undefined when err is no TLS failure.
 * `fix` is generic; callers that know how the camera is trusted (pinned, CA) say more.
 */
export interface TlsFailure {
  code: string;
  problem: string;
  fix: string;
}

export function describeTlsFailure(err: unknown): TlsFailure | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (err instanceof CertificatePinError) {
    return { code, problem: `the camera presented certificate SHA256 ${err.presented}, not the pinned SHA256 ${err.pinned}`, fix: 'if the camera was reset or given a new certificate, check its fingerprint on the camera and re-pin; otherwise something on the network is impersonating it' };
  }
  if (UNTRUSTED.has(code)) {
    return { code, problem: `the camera's certificate is not trusted (${code}: self-signed, or issued by a CA this client was not given)`, fix: "pin the camera's certificate, or give the CA that issued it" };
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return { code, problem: `the camera's certificate is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not valid yet'} (${code})`, fix: "check the camera's clock and this computer's, and renew the certificate on the camera" };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return { code, problem: `the camera's certificate does not name the address used (${(err as Error).message})`, fix: 'use the host name the certificate was issued for, or pin the certificate instead of verifying it by CA' };
  }
  if (code === 'EPROTO' || code.startsWith('ERR_SSL_')) {
    return { code, problem: `no TLS handshake with the camera (${code}: ${(err as Error).message})`, fix: 'check that this port serves HTTPS (an Axis camera serves it on 443); for a camera without HTTPS use http:// explicitly' };
  }
  return undefined;
}
