/**
 * Proof of possession, `POST /challenge` on the agent's local API (on a camera:
 * `/local/cloudcam/api/challenge`, admin only through the web server's reverse proxy).
 *
 * Before `cloudcam setup certs` sends a private key it sends a fresh random nonce; the agent signs
 * `cloudcam-challenge-v1\n{nonce}` with the private key of its current device certificate and
 * returns the signature with that certificate. The laptop verifies the signature with the
 * certificate's public key and that the certificate was issued by a CA the technician gave (--ca).
 * Whatever else listens where the agent should (a squatter on the port) cannot sign, so it is sent
 * nothing. The fixed prefix keeps the signature from being usable for anything but this exchange.
 *
 * Request (JSON): {nonce}: 32 random bytes, base64url.
 * Reply 200 (JSON): {thingName, certificatePem, algorithm: 'sha256', signature (base64)}.
 */
import { sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { splitPemCertificates } from '../lib/certificate-check.js';

export const CHALLENGE_PATH = '/challenge';
export const CHALLENGE_NONCE_BYTES = 32;
/** A nonce and its JSON wrapping are under 100 bytes. */
export const CHALLENGE_MAX_BYTES = 1024;
const PREFIX = 'cloudcam-challenge-v1\n';

export interface ChallengeAnswer {
  thingName: string;
  certificatePem: string;
  algorithm: 'sha256';
  signature: string;
}

/** The nonce of a request body, or what is wrong with it. */
export function parseChallengeRequest(body: string): { nonce: string } | { problem: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { problem: 'the body is not JSON: send {"nonce": "<32 random bytes, base64url>"}' };
  }
  const nonce = (doc as { nonce?: unknown } | null)?.nonce;
  if (typeof nonce !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(nonce)) return { problem: `nonce must be ${CHALLENGE_NONCE_BYTES} random bytes as base64url (43 characters)` };
  return { nonce };
}

function message(nonce: string): Buffer {
  return Buffer.from(PREFIX + nonce, 'utf8');
}

/** The agent's answer: the nonce signed with the device key (ECDSA or RSA PKCS#1 v1.5, SHA-256). */
export function answerChallenge(nonce: string, identity: { thingName: string; certificatePem: string; key: KeyObject }): ChallengeAnswer {
  return { thingName: identity.thingName, certificatePem: identity.certificatePem, algorithm: 'sha256', signature: sign('sha256', message(nonce), identity.key).toString('base64') };
}

/**
 * What is wrong with an answer to `nonce` (undefined: the answerer holds the key of a certificate
 * that one of the CAs in `caPem` issued). Validity dates are not checked: an agent whose certificate
 * expired must still be able to prove it is the agent, so that it can be given a new one.
 */
export function checkChallengeAnswer(nonce: string, answer: unknown, caPem: string): string | undefined {
  const a = answer as Partial<ChallengeAnswer> | null;
  if (typeof a?.certificatePem !== 'string' || typeof a.signature !== 'string' || a.algorithm !== 'sha256') return 'the answer is not {certificatePem, algorithm: "sha256", signature}';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(a.certificatePem);
  } catch {
    return 'the answer carries no readable certificate';
  }
  let signed: boolean;
  try {
    signed = verify('sha256', message(nonce), cert.publicKey, Buffer.from(a.signature, 'base64'));
  } catch {
    signed = false;
  }
  if (!signed) return `the signature does not verify with the certificate it came with (${cert.subject.replace(/\n/g, ', ')}): whatever answered does not hold that key`;
  const cas = splitPemCertificates(caPem);
  if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
    return `the agent's current certificate (${cert.subject.replace(/\n/g, ', ')}, issued by ${cert.issuer.replace(/\n/g, ', ')}) was not issued by a CA in --ca`;
  }
  return undefined;
}
