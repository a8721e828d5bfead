/**
 * `cloudcam camera add`'s first step: decide how the camera's HTTPS certificate is trusted before
 * any credential is sent. Pinning (trust on first use) shows the certificate the camera presents
 * (fingerprint, subject, validity) and pins it when a person confirms it or a script's --fingerprint
 * matches; --ca trusts a CA instead; --insecure-http trusts nothing. A stored pin is kept unless
 * --repin: a camera that now presents another certificate is refused.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeCertificate, fetchPresentedCertificate, normaliseFingerprint, type PresentedCertificate } from '../protocol/camera-tls.js';
import type { CameraTrust } from './camera-store.js';
import { FIELD_TIMEOUT_MS } from './camera-client.js';

export interface TrustRequest {
  address: string;
  url: string;
  /** What is stored for this URL already. */
  existing: CameraTrust | undefined;
  repin: boolean;
  fingerprint?: string;
  caFile?: string;
  insecureHttp: boolean;
  say: (line: string) => void;
  /** Asks a yes/no question on a terminal; undefined without one. */
  confirm: ((question: string) => Promise<boolean>) | undefined;
}

async function readCa(file: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read --ca ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`--ca ${file} holds no PEM certificate: give the CA certificate that issued the camera's certificate`);
  for (const b of blocks) {
    try {
      describeCertificate(b);
    } catch (err) {
      throw new Error(`--ca ${file} holds a certificate that does not parse (${(err as Error).message})`, { cause: err });
    }
  }
  return pem;
}

function show(c: PresentedCertificate, say: (line: string) => void): void {
  say(`certificate  SHA256 ${c.fingerprint256}`);
  say(`subject      ${c.subject}`);
  say(`issuer       ${c.selfSigned ? 'self-signed' : c.issuer}`);
  say(`valid        ${c.validFrom} .. ${c.validTo}`);
}

export async function establishTrust(r: TrustRequest): Promise<CameraTrust> {
  if (r.insecureHttp) {
    r.say(`! ${r.url} is plain HTTP: credentials (as a digest) and replies cross the network unprotected; setup certs and install will refuse this camera`);
    return { kind: 'insecure-http' };
  }
  if (r.caFile !== undefined) {
    const caFile = path.resolve(r.caFile);
    return { kind: 'ca', caFile, caPem: await readCa(caFile) };
  }
  const presented = await fetchPresentedCertificate(r.url, FIELD_TIMEOUT_MS).catch((err: unknown) => {
    throw new Error(
      `no TLS handshake with ${r.url} (${(err as Error).message}): check the address and that the camera serves HTTPS there (an Axis camera does on 443); ` +
        'for a camera without HTTPS, --insecure-http (setup certs and install will refuse it)',
      { cause: err },
    );
  });
  show(presented, r.say);
  const existing = r.existing;
  if (existing?.kind === 'pinned' && existing.fingerprint256 !== presented.fingerprint256 && !r.repin) {
    throw new Error(
      `the camera at ${r.url} now presents certificate SHA256 ${presented.fingerprint256}, not the one pinned on ${existing.pinnedAt.slice(0, 10)} (SHA256 ${existing.fingerprint256}); nothing was sent. ` +
        `If the camera was reset or given a new certificate, check the fingerprint on the camera and run \`cloudcam camera add ${r.address} --repin\`; if not, something on the network may be impersonating it`,
    );
  }
  if (!presented.selfSigned) {
    throw new Error(`the camera's certificate was issued by ${presented.issuer}: verify it against that CA with --ca FILE (pinning is for self-signed certificates)`);
  }
  const pin: CameraTrust = {
    kind: 'pinned',
    fingerprint256: presented.fingerprint256,
    certificatePem: presented.certificatePem,
    subject: presented.subject,
    validTo: presented.validTo,
    pinnedAt: new Date().toISOString(),
  };
  if (r.fingerprint !== undefined) {
    const wanted = normaliseFingerprint(r.fingerprint);
    if (wanted !== presented.fingerprint256) {
      throw new Error(`the camera at ${r.url} presents certificate SHA256 ${presented.fingerprint256}, not the --fingerprint ${wanted}; nothing was sent or stored. Check the address and the fingerprint`);
    }
    r.say('✓ the certificate matches --fingerprint: pinned');
    return pin;
  }
  if (existing?.kind === 'pinned' && existing.fingerprint256 === presented.fingerprint256) {
    r.say('✓ the certificate is the one pinned before');
    return existing;
  }
  if (!r.confirm) {
    throw new Error(`no terminal to confirm the camera's certificate: check the fingerprint above against the camera and pass it with --fingerprint SHA256`);
  }
  const yes = await r.confirm(`Is this the certificate of your camera ${r.address}? Compare the fingerprint with the one its web interface shows. Pin it? [y/N] `);
  if (!yes) throw new Error('certificate not confirmed: nothing was sent or stored');
  return pin;
}
