/**
 * A certificate's key as chromium pins it: SHA-256 of the SubjectPublicKeyInfo, base64, the form of
 * `--ignore-certificate-errors-spki-list`. Here, not beside the chromium launcher, because devcloud
 * (a runtime dependency of `cloudcam devcloud`) prints it too and must not load playwright.
 */
import { createHash, X509Certificate } from 'node:crypto';

/** `certificate`: PEM text or DER bytes. */
export function spkiPin(certificate: string | Buffer): string {
  const der = new X509Certificate(certificate).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

/** The flag that makes chromium accept these certificates' keys (and only these) without a CA it knows; it needs --user-data-dir. */
export function spkiListFlag(certificates: readonly (string | Buffer)[]): string {
  return `--ignore-certificate-errors-spki-list=${certificates.map(spkiPin).join(',')}`;
}
