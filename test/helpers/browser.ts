import { createHash, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Debian's chromium driven by playwright-core (playwright's own browser download does not work here).
 * `make test` installs chromium (scripts/system-packages.sh); without it the browser suites report
 * as skipped.
 */
export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);

/**
 * `trustCertificates`: PEM server certificates chromium accepts although no CA it knows signed them
 * (devcloud's KVS signalling WSS), by their public key only (`--ignore-certificate-errors-spki-list`,
 * honoured with a user data dir, which playwright always passes): every other certificate is
 * still checked.
 */
export function launchChromium(opts: { trustCertificates?: (string | Buffer)[] } = {}): Promise<Browser> {
  const spki = (opts.trustCertificates ?? []).map((pem) => createHash('sha256').update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' })).digest('base64'));
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...(spki.length > 0 ? [`--ignore-certificate-errors-spki-list=${spki.join(',')}`] : []),
    ],
  });
}

/** Signs in to devcloud's viewer through the issuer's page (code flow with PKCE) and waits for the fleet page. */
export async function signInToViewer(page: Page, viewer: { url: string; username: string; password: string }): Promise<void> {
  await page.goto(viewer.url);
  await page.getByLabel('Username').fill(viewer.username);
  await page.getByLabel('Password').fill(viewer.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Cameras' }).waitFor();
}
