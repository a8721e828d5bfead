/**
 * The one way this project starts Debian's chromium through playwright-core (playwright's own browser
 * download does not work here): the browser tests (test/helpers/browser.ts), `make screenshot`,
 * `make bench-viewer`, and the live viewer of `make test-package` / `make bench-live`
 * (live-viewer.ts). The SPKI pin that lets it accept devcloud's server certificate is src/lib/spki-pin.ts
 * (`make run` prints it for a user's own chromium).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { spkiListFlag } from '../lib/spki-pin.js';

export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);

/** Headless, as root (no sandbox), and nothing that reaches the network on its own. */
const BASE_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

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
