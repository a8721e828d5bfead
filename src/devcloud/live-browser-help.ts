/**
 * How a person watches devcloud's live view in their own browser. The Live button opens a WebSocket
 * to devcloud's KVS signalling stand-in, whose certificate devcloud's own CA signed: no browser trusts
 * that CA, so the socket fails before it opens, and a page cannot learn why (browsers give scripts no
 * TLS error detail). In AWS the signalling endpoint has a public certificate and none of this applies.
 *
 * The way offered first is a chromium of its own (a separate profile, so the user's everyday browser
 * is untouched) that accepts the signalling certificate's key and nothing else: the flag the browser
 * tests use. Importing devcloud's CA also works, but makes that browser trust whatever the CA signs,
 * for every site, as long as it stays imported; the key is a file in the state dir.
 */
import path from 'node:path';
import { spkiListFlag } from '../lib/spki-pin.js';

export interface LiveBrowserHelp {
  /** One sentence for the viewer page: what failed and what to do. */
  text: string;
  /** A ready command line: chromium with its own profile, trusting the signalling certificate's key only. */
  command: string;
  /** devcloud's CA certificate, for a user who prefers importing it. */
  caPath: string;
}

export function liveBrowserHelp(o: { viewerUrl: string; signallingUrl: string; signallingCertificate: string | Buffer; caPath: string; stateDir: string }): LiveBrowserHelp {
  const signalling = new URL(o.signallingUrl).host;
  const profile = path.join(o.stateDir, 'chromium-live-profile');
  const command = `chromium --user-data-dir=${quote(profile)} ${spkiListFlag([o.signallingCertificate])} ${o.viewerUrl}`;
  return {
    text:
      `This browser could not open devcloud's live signalling at wss://${signalling}: its certificate comes from devcloud's own CA, which browsers do not trust. ` +
      `Open the viewer in a chromium that trusts that certificate's key only (its own profile; \`make run\` prints the same line), or import ${o.caPath} as an authority in this browser and remove it when done.`,
    command,
    caPath: o.caPath,
  };
}

/** Single quotes for a POSIX shell when the path needs them. */
function quote(p: string): string {
  return /^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}
