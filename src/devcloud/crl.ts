/**
 * devcloud's certificate revocation list: the stand-in for AWS IoT's certificate status. A certificate
 * that AWS would have INACTIVE is on this list, and both brokers check every TLS handshake against it
 * (Node's `crl` secure-context option in aedes' listener and in mosquitto's mutual-TLS front), so it is
 * refused before MQTT, as AWS refuses an inactive certificate. The file is also the persisted record
 * of what was deactivated.
 */
import type { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { readFileIfExists, writeFileAtomic } from '../lib/atomic-file.js';
import type { CertificateAuthority } from './pki.js';

/** The PEM label OpenSSL reads; @peculiar/x509 writes `CRL`. */
const PEM_LABEL = 'X509 CRL';
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const CLOCK_SKEW_MS = 5 * 60_000;
/** OpenSSL refuses every handshake once nextUpdate has passed: devcloud's list never "expires". */
const VALIDITY_MS = 10 * 365 * 86_400_000;

/** Revoked serial numbers (lower-case hex, as in the certificates devcloud issues). */
export async function revokedSerials(crlPath: string): Promise<string[]> {
  const pem = await readFileIfExists(crlPath);
  if (pem === undefined) return [];
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(pem.replaceAll(PEM_LABEL, 'CRL'));
  } catch (err) {
    throw new Error(`cannot parse the revocation list ${crlPath} (${(err as Error).message}); delete it (revoked certificates then work again) or the whole pki dir`, { cause: err });
  }
  return crl.entries.map((e) => e.serialNumber.toLowerCase());
}

/** Writes the list with exactly these serials, signed by the CA (0644: the brokers read it). */
export async function writeCrl(crlPath: string, ca: CertificateAuthority, serials: string[]): Promise<void> {
  const now = Date.now();
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subjectName,
    thisUpdate: new Date(now - CLOCK_SKEW_MS),
    nextUpdate: new Date(now + VALIDITY_MS),
    signingAlgorithm: SIGNING,
    signingKey: ca.privateKey,
    entries: [...new Set(serials)].map((serialNumber) => ({ serialNumber, revocationDate: new Date(now - 1000), reason: x509.X509CrlReason.cessationOfOperation })),
  });
  const pem = crl.toString('pem').replace(/-----(BEGIN|END) CRL-----/g, `-----$1 ${PEM_LABEL}-----`);
  await writeFileAtomic(crlPath, pem, 0o644);
}

/** Adds one serial to the list. */
export async function revokeSerial(crlPath: string, ca: CertificateAuthority, serial: string): Promise<void> {
  await writeCrl(crlPath, ca, [...(await revokedSerials(crlPath)), serial.toLowerCase()]);
}
