/**
 * Checks a device certificate, its private key and the CA before anything uses them: shared by
 * `cloudcam setup certs` (against the camera's clock, on the laptop) and the agent's `POST /certs`
 * (against the device clock, on the camera). Checks that the key matches the certificate, that one
 * of the CA certificates issued it, that it is valid at `now`, and the key type/size.
 * Messages never quote key material: only subjects, dates, key types and parser errors.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';

export interface CertBundle {
  certPem: string;
  keyPem: string;
  /** One or more PEM certificates: the issuer of the device certificate and the broker's trust roots. */
  caPem: string;
}

export interface CertReport {
  subject: string;
  issuer: string;
  fingerprint256: string;
  notBefore: Date;
  notAfter: Date;
  key: string;
  problems: string[];
}

/** Input that cannot be checked at all (not PEM, unreadable key): one message, no report. */
export class CertificateInputError extends Error {}

/** The create-keys-and-certificate reply: {certificatePem, keyPair: {PrivateKey, PublicKey}}. */
export function bundleFromAwsJson(json: string, caPem: string): CertBundle {
  let doc: { certificatePem?: unknown; keyPair?: { PrivateKey?: unknown } };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch (err) {
    throw new CertificateInputError(`the AWS JSON is not valid JSON (${(err as Error).message}): save the output of aws iot create-keys-and-certificate --set-as-active`, { cause: err });
  }
  if (typeof doc.certificatePem !== 'string' || typeof doc.keyPair?.PrivateKey !== 'string') {
    throw new CertificateInputError('the AWS JSON lacks certificatePem or keyPair.PrivateKey: it must be the output of aws iot create-keys-and-certificate');
  }
  return { certPem: doc.certificatePem, keyPem: doc.keyPair.PrivateKey, caPem };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM bundle (a CA file may hold several, e.g. a root and an issuing CA). */
export function splitPemCertificates(pem: string): X509Certificate[] {
  return (pem.match(PEM_CERT) ?? []).map((block) => new X509Certificate(block));
}

function describeKey(key: KeyObject): { text: string; problem?: string } {
  const type = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    const bits = d.modulusLength ?? 0;
    return { text: `RSA ${bits}`, ...(bits < 2048 ? { problem: `the key is RSA ${bits}: AWS IoT needs RSA 2048 or larger (or ECDSA P-256/P-384)` } : {}) };
  }
  if (type === 'ec') {
    const curve = d.namedCurve ?? '?';
    const ok = curve === 'prime256v1' || curve === 'secp384r1' || curve === 'P-256' || curve === 'P-384';
    return { text: `ECDSA ${curve}`, ...(ok ? {} : { problem: `the key is on curve ${curve}: AWS IoT takes P-256 or P-384` }) };
  }
  return { text: String(type), problem: `the key type ${String(type)} is not one AWS IoT accepts (RSA 2048+ or ECDSA P-256/P-384)` };
}

const oneLine = (dn: string): string => dn.replace(/\n/g, ', ');

/** Every problem at once; `now` is the camera's clock, not the laptop's. */
export function validateBundle(b: CertBundle, now: Date): CertReport {
  const problems: string[] = [];
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(b.certPem);
  } catch (err) {
    throw new CertificateInputError(`the device certificate is not a PEM certificate (${(err as Error).message})`, { cause: err });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(b.keyPem);
  } catch (err) {
    // Node's decoder errors name the failing routine, never the key's bytes.
    throw new CertificateInputError(`the private key cannot be read (${(err as Error).message}): give the unencrypted PEM key`, { cause: err });
  }
  let cas: X509Certificate[] = [];
  try {
    cas = splitPemCertificates(b.caPem);
    if (cas.length === 0) problems.push('the CA file holds no PEM certificate: give the CA that issued the device certificate (PEM)');
  } catch (err) {
    problems.push(`the CA is not a PEM certificate (${(err as Error).message})`);
  }
  if (!cert.checkPrivateKey(key)) {
    problems.push('the private key does not belong to this certificate: use the key file that was made with it');
  }
  if (cas.length > 0 && !cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
    problems.push(
      `the certificate was not signed by the given CA (${cas.map((c) => oneLine(c.subject)).join('; ')}): give the CA that issued it (for AWS-made certificates the account's CA chain)`,
    );
  }
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (now < notBefore) problems.push(`the certificate is not valid yet by the camera clock (from ${notBefore.toISOString()}, camera says ${now.toISOString()}): fix the camera clock with cloudcam setup ntp`);
  if (now > notAfter) problems.push(`the certificate expired on ${notAfter.toISOString()} (camera clock ${now.toISOString()}): make a new one`);
  const k = describeKey(createPublicKey(key));
  if (k.problem) problems.push(k.problem);
  return { subject: oneLine(cert.subject), issuer: oneLine(cert.issuer), fingerprint256: cert.fingerprint256, notBefore, notAfter, key: k.text, problems };
}
