/**
 * The camera's own identity on disk: its certificate and key (0600) at iot.certPath/iot.keyPath and
 * STATE_DIR/identity.json ({thingName, certificateId}), written in that order, each atomically.
 * identity.json is the commit mark: an identity counts only when the mark names the certificate on
 * disk (by certificateId, the SHA-256 of its DER) and the key matches that certificate. A crash
 * part-way therefore leaves an identity that does not count, and the next start enrols again;
 * never a key and certificate that disagree.
 *
 * An identity installed by a technician (`cloudcam setup certs` → the local API's POST /certs) goes to
 * STATE_DIR/identity/{device.key,device.crt,ca.pem} with the same order and mark (source "installed");
 * at start it takes precedence over the configured iot.* files (readInstalledIdentity).
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { readFileIfExists, writeFileAtomic } from '../../lib/atomic-file.js';
import { IDENTITY_DIR } from '../config/index.js';
import type { TlsFiles } from '../connection.js';

export const IDENTITY_FILE = 'identity.json';

export interface IdentityPaths {
  certPath: string;
  keyPath: string;
  stateDir: string;
}

export interface StoredIdentity {
  thingName: string;
  certificateId: string;
  provisionedAt: string;
  /** "installed": put there by POST /certs (then the CA beside it is used too); absent: fleet provisioning. */
  source?: 'installed';
}

/** AWS IoT's certificate id: the SHA-256 of the certificate's DER, lower-case hex. */
export function certificateIdOf(certPem: string): string {
  return createHash('sha256').update(new X509Certificate(certPem).raw).digest('hex');
}

/**
 * The thing name of a complete identity, or why there is none. `configuredThing` (from the config)
 * stands in for identity.json when the certificate was installed by hand.
 */
export async function readIdentity(paths: IdentityPaths, configuredThing: string): Promise<{ thingName: string } | { missing: string }> {
  const [certPem, keyPem, mark] = await Promise.all([readFileIfExists(paths.certPath), readFileIfExists(paths.keyPath), readFileIfExists(path.join(paths.stateDir, IDENTITY_FILE))]);
  if (certPem === undefined || keyPem === undefined) return { missing: `no certificate and key at ${paths.certPath} and ${paths.keyPath}` };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return { missing: `${paths.keyPath} does not match ${paths.certPath} (an enrolment was interrupted)` };
  } catch (err) {
    return { missing: `cannot read the identity at ${paths.certPath}: ${(err as Error).message}` };
  }
  let stored: Partial<StoredIdentity> | undefined;
  if (mark !== undefined) {
    try {
      stored = JSON.parse(mark) as Partial<StoredIdentity>;
    } catch {
      return { missing: `${IDENTITY_FILE} is damaged` };
    }
  }
  if (configuredThing !== '') return { thingName: configuredThing };
  if (stored === undefined || typeof stored.thingName !== 'string') return { missing: `no ${IDENTITY_FILE} names this camera's thing` };
  if (stored.certificateId !== certificateIdOf(certPem)) return { missing: `${IDENTITY_FILE} names another certificate (an enrolment was interrupted)` };
  return { thingName: stored.thingName };
}

/** Key, then certificate, (then the CA,) then the mark; see the module comment for why that order. */
export async function writeIdentity(
  paths: IdentityPaths & { caPath?: string },
  identity: { thingName: string; certificatePem: string; privateKeyPem: string; caPem?: string; source?: 'installed' },
): Promise<StoredIdentity> {
  const dirs = [paths.keyPath, paths.certPath, ...(paths.caPath ? [paths.caPath] : [])].map((f) => path.dirname(f));
  for (const dir of new Set([...dirs, paths.stateDir])) await mkdir(dir, { recursive: true, mode: 0o700 });
  const stored: StoredIdentity = {
    thingName: identity.thingName,
    certificateId: certificateIdOf(identity.certificatePem),
    provisionedAt: new Date().toISOString(),
    ...(identity.source ? { source: identity.source } : {}),
  };
  await writeFileAtomic(paths.keyPath, identity.privateKeyPem, 0o600);
  await writeFileAtomic(paths.certPath, identity.certificatePem, 0o600);
  if (paths.caPath && identity.caPem !== undefined) await writeFileAtomic(paths.caPath, identity.caPem, 0o600);
  await writeFileAtomic(path.join(paths.stateDir, IDENTITY_FILE), JSON.stringify(stored, null, 2) + '\n', 0o600);
  return stored;
}

/** Where POST /certs installs an identity. */
export function installedIdentityFiles(stateDir: string): TlsFiles {
  const dir = path.join(stateDir, IDENTITY_DIR);
  return { caPath: path.join(dir, 'ca.pem'), certPath: path.join(dir, 'device.crt'), keyPath: path.join(dir, 'device.key') };
}

/** Writes an already validated certificate, key and CA as the camera's installed identity. */
export async function writeInstalledIdentity(stateDir: string, identity: { thingName: string; certificatePem: string; privateKeyPem: string; caPem: string }): Promise<{ stored: StoredIdentity; files: TlsFiles }> {
  const files = installedIdentityFiles(stateDir);
  const stored = await writeIdentity({ ...files, stateDir }, { ...identity, source: 'installed' });
  return { stored, files };
}

/**
 * The files of a complete installed identity (mark says "installed" and names the certificate on disk,
 * the key matches it, the CA is there), or why there is none; `undefined` when nothing was installed.
 */
export async function readInstalledIdentity(stateDir: string): Promise<TlsFiles | { broken: string } | undefined> {
  const mark = await readFileIfExists(path.join(stateDir, IDENTITY_FILE));
  if (mark === undefined) return undefined;
  let stored: Partial<StoredIdentity>;
  try {
    stored = JSON.parse(mark) as Partial<StoredIdentity>;
  } catch {
    return { broken: `${IDENTITY_FILE} is damaged` };
  }
  if (stored.source !== 'installed') return undefined;
  const files = installedIdentityFiles(stateDir);
  const [certPem, keyPem, caPem] = await Promise.all([readFileIfExists(files.certPath), readFileIfExists(files.keyPath), readFileIfExists(files.caPath)]);
  if (certPem === undefined || keyPem === undefined || caPem === undefined) return { broken: `the installed identity in ${path.dirname(files.certPath)} is incomplete` };
  try {
    if (certificateIdOf(certPem) !== stored.certificateId) return { broken: `${IDENTITY_FILE} names another certificate (an install was interrupted)` };
    if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))) return { broken: `${files.keyPath} does not match ${files.certPath} (an install was interrupted)` };
  } catch (err) {
    return { broken: `cannot read the installed identity: ${(err as Error).message}` };
  }
  return files;
}
