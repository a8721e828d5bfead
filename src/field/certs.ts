/**
 * `cloudcam setup certs` validation: a device certificate, its key and the CA, from PEM files or
 * the JSON that `aws iot create-keys-and-certificate` prints. Checks that the key matches the
 * certificate, that the CA signed it, that it is valid by the camera's clock, and the key type/size.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';

export interface CertBundle {
  certPem: string;
  keyPem: string;
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

/** The create-keys-and-certificate reply: {certificatePem, keyPair: {PrivateKey, PublicKey}}. */
export function bundleFromAwsJson(json: string, caPem: string): CertBundle {
  let doc: { certificatePem?: unknown; keyPair?: { PrivateKey?: unknown } };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch (err) {
    throw new Error(`the AWS JSON is not valid JSON (${(err as Error).message}): save the output of aws iot create-keys-and-certificate --set-as-active`, { cause: err });
  }
  if (typeof doc.certificatePem !== 'string' || typeof doc.keyPair?.PrivateKey !== 'string') {
    throw new Error('the AWS JSON lacks certificatePem or keyPair.PrivateKey: it must be the output of aws iot create-keys-and-certificate');
  }
  return { certPem: doc.certificatePem, keyPem: doc.keyPair.PrivateKey, caPem };
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

/** Every problem at once; `now` is the camera's clock, not this computer's. */
export function validateBundle(b: CertBundle, now: Date): CertReport {
  const problems: string[] = [];
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(b.certPem);
  } catch (err) {
    throw new Error(`the device certificate is not a PEM certificate (${(err as Error).message})`, { cause: err });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(b.keyPem);
  } catch (err) {
    throw new Error(`the private key cannot be read (${(err as Error).message}): give the unencrypted PEM key`, { cause: err });
  }
  let ca: X509Certificate | undefined;
  try {
    ca = new X509Certificate(b.caPem);
  } catch (err) {
    problems.push(`the CA is not a PEM certificate (${(err as Error).message})`);
  }
  if (!cert.checkPrivateKey(key)) {
    problems.push('the private key does not belong to this certificate: use the key file that was made with it');
  }
  if (ca) {
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
      problems.push(`the certificate was not signed by the given CA (${ca.subject.replace(/\n/g, ', ')}): give the CA that issued it (for AWS-made certificates the account's CA chain)`);
    }
  }
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (now < notBefore) problems.push(`the certificate is not valid yet by the camera clock (from ${notBefore.toISOString()}, camera says ${now.toISOString()}): fix the camera clock with cloudcam setup ntp`);
  if (now > notAfter) problems.push(`the certificate expired on ${notAfter.toISOString()} (camera clock ${now.toISOString()}): make a new one`);
  const k = describeKey(createPublicKey(key));
  if (k.problem) problems.push(k.problem);
  return { subject: cert.subject.replace(/\n/g, ', '), issuer: cert.issuer.replace(/\n/g, ', '), fingerprint256: cert.fingerprint256, notBefore, notAfter, key: k.text, problems };
}
