import type { Page } from 'playwright-core';

/**
 * Debian's chromium driven by playwright-core, started by src/packaging/chromium.ts (the scripts and
 * test-package use the same launcher). `make test` installs chromium (scripts/system-packages.sh);
 * without it the browser suites report as skipped.
 */
export { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../../src/packaging/chromium.js';

/** Signs in to devcloud's viewer through the issuer's page (code flow with PKCE) and waits for the fleet page. */
export async function signInToViewer(page: Page, viewer: { url: string; username: string; password: string }): Promise<void> {
  await page.goto(viewer.url);
  await page.getByLabel('Username').fill(viewer.username);
  await page.getByLabel('Password').fill(viewer.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Cameras' }).waitFor();
}
