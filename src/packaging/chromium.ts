/**
 * The one way this project starts Debian's chromium through playwright-core (playwright's own browser
 * download does not work here): the browser tests (test/helpers/browser.ts), `make screenshot`,
 * `make bench-viewer`, and the live viewer of `make test-package` / `make bench-live`
 * (live-viewer.ts). Also the SPKI pin that lets a browser accept devcloud's server certificate, which
 * `make run` prints for a user's own chromium.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);

/** Headless, as root (no sandbox), and nothing that reaches the network on its own. */
const BASE_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/**
 * SHA-256 of a certificate's SubjectPublicKeyInfo, base64: the form chromium's
 * `--ignore-certificate-errors-spki-list` takes. `certificate`: PEM text or DER bytes.
 */
export function spkiPin(certificate: string | Buffer): string {
  const der = new X509Certificate(certificate).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

/** The flag that makes chromium accept these certificates' keys (and only these) without a CA it knows. */
export function spkiListFlag(certificates: readonly (string | Buffer)[]): string {
  return `--ignore-certificate-errors-spki-list=${certificates.map(spkiPin).join(',')}`;
}

export interface LaunchChromiumOptions {
  /**
   * Server certificates chromium accepts although no CA it knows signed them (devcloud's KVS
   * signalling WSS), by their public key only. Chromium honours the flag only with a user data dir,
   * which playwright always passes; every other certificate is still checked.
   */
  trustCertificates?: readonly (string | Buffer)[];
  /** A caller's own flags (autoplay policy, ...), after the common ones. */
  extraArgs?: readonly string[];
}

export function launchChromium(opts: LaunchChromiumOptions = {}): Promise<Browser> {
  const trust = opts.trustCertificates ?? [];
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [...BASE_ARGS, ...(trust.length > 0 ? [spkiListFlag(trust)] : []), ...(opts.extraArgs ?? [])],
  });
}
