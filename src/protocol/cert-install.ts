/**
 * The agent's certificate install endpoint, `POST /certs` on its local API (on a camera:
 * `/local/cloudcam/api/certs`, admin only through the web server's reverse proxy).
 *
 * Request (JSON), either shape:
 *   {certificatePem, privateKey, caPem}
 *   {certificatePem, keyPair: {PrivateKey}, caPem}   (aws iot create-keys-and-certificate, plus caPem)
 * Replies: 200 CertInstalled; 400 CertRefused {error, problems[]} (nothing written); 413 too large.
 */
import type { CertBundle } from '../lib/certificate-check.js';

export const CERT_INSTALL_PATH = '/certs';
/** A certificate, a key and a CA bundle are a few KB; anything near this is not one. */
export const CERT_INSTALL_MAX_BYTES = 64 * 1024;

export interface CertInstalled {
  thingName: string;
  subject: string;
  issuer: string;
  fingerprint256: string;
  notBefore: string;
  notAfter: string;
  key: string;
  /** AWS IoT's certificate id: SHA-256 of the DER, hex. */
  certificateId: string;
}

export interface CertRefused {
  error: string;
  problems: string[];
}

/** The bundle of a request body, or the list of what is wrong with its shape (never its values). */
export function parseCertInstallRequest(body: string): CertBundle | { problems: string[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    return { problems: [`the body is not JSON (${(err as Error).message}): send {certificatePem, privateKey, caPem}`] };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { problems: ['the body must be a JSON object {certificatePem, privateKey, caPem}'] };
  const d = doc as { certificatePem?: unknown; privateKey?: unknown; keyPair?: { PrivateKey?: unknown }; caPem?: unknown };
  const key = d.privateKey ?? d.keyPair?.PrivateKey;
  const problems: string[] = [];
  if (typeof d.certificatePem !== 'string' || d.certificatePem === '') problems.push('certificatePem is missing: the device certificate as PEM text');
  if (typeof key !== 'string' || key === '') problems.push('privateKey (or keyPair.PrivateKey) is missing: the device private key as PEM text');
  if (typeof d.caPem !== 'string' || d.caPem === '') problems.push('caPem is missing: the CA certificate(s) as PEM text');
  if (problems.length > 0) return { problems };
  return { certPem: d.certificatePem as string, keyPem: key as string, caPem: d.caPem as string };
}
