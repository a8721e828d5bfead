/**
 * The camera's own identity on disk: its certificate and key (0600) at iot.certPath/iot.keyPath and
 * STATE_DIR/identity.json ({thingName, certificateId}), written in that order, each atomically.
 * identity.json is the commit mark: an identity counts only when the mark names the certificate on
 * disk (by certificateId, the SHA-256 of its DER) and the key matches that certificate. A crash
 * part-way therefore leaves an identity that does not count, and the next start enrols again;
 * never a key and certificate that disagree.
 *
 * An identity installed by a technician (`cloudcam setup certs` → the local API's POST /certs) goes to
 * STATE_DIR/identity/{device.key,device.crt} with the same order and mark (source "installed"); at
 * start it takes precedence over the configured iot.* files (readInstalledIdentity). It never brings
 * a CA: the broker is trusted through iot.caPath only, whatever the request carried. Until the agent
 * has connected with it, the identity it replaced is kept in STATE_DIR/identity/previous/ so that it
 * can be restored (identity-trial.ts).
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
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
  /** "installed": put there by POST /certs; absent: fleet provisioning. */
  source?: 'installed';
  /** Installed but not yet connected with: the previous identity waits in identity/previous/. */
  trial?: boolean;
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
  identity: { thingName: string; certificatePem: string; privateKeyPem: string; caPem?: string; source?: 'installed'; trial?: boolean },
): Promise<StoredIdentity> {
  const dirs = [paths.keyPath, paths.certPath, ...(paths.caPath ? [paths.caPath] : [])].map((f) => path.dirname(f));
  for (const dir of new Set([...dirs, paths.stateDir])) await mkdir(dir, { recursive: true, mode: 0o700 });
  const stored: StoredIdentity = {
    thingName: identity.thingName,
    certificateId: certificateIdOf(identity.certificatePem),
    provisionedAt: new Date().toISOString(),
    ...(identity.source ? { source: identity.source } : {}),
    ...(identity.trial ? { trial: true } : {}),
  };
  await writeFileAtomic(paths.keyPath, identity.privateKeyPem, 0o600);
  await writeFileAtomic(paths.certPath, identity.certificatePem, 0o600);
  if (paths.caPath && identity.caPem !== undefined) await writeFileAtomic(paths.caPath, identity.caPem, 0o600);
  await writeFileAtomic(path.join(paths.stateDir, IDENTITY_FILE), JSON.stringify(stored, null, 2) + '\n', 0o600);
  return stored;
}

/** Where POST /certs installs an identity (the CA is the configured iot.caPath). */
export function installedIdentityFiles(stateDir: string, caPath: string): TlsFiles {
  const dir = path.join(stateDir, IDENTITY_DIR);
  return { caPath, certPath: path.join(dir, 'device.crt'), keyPath: path.join(dir, 'device.key') };
}

/**
 * Writes an already validated certificate and key as the camera's installed identity, on trial: first
 * the identity in use (`current`) and its mark are copied to identity/previous/ for restorePreviousIdentity.
 */
export async function writeInstalledIdentity(
  stateDir: string,
  current: TlsFiles,
  identity: { thingName: string; certificatePem: string; privateKeyPem: string },
): Promise<{ stored: StoredIdentity; files: TlsFiles }> {
  const files = installedIdentityFiles(stateDir, current.caPath);
  await keepPrevious(stateDir, current);
  const stored = await writeIdentity({ ...files, stateDir }, { ...identity, source: 'installed', trial: true });
  return { stored, files };
}

const previousDir = (stateDir: string): string => path.join(stateDir, IDENTITY_DIR, 'previous');

interface PreviousRecord {
  certPath: string;
  keyPath: string;
  /** identity.json as it was; null when there was none. */
  mark: string | null;
}

/**
 * Copies the identity in use to identity/previous/, unless that identity is itself still on trial:
 * then the copy already there (the last identity that connected) stays the one to go back to.
 */
async function keepPrevious(stateDir: string, current: TlsFiles): Promise<void> {
  const dir = previousDir(stateDir);
  const [certPem, keyPem, mark, kept] = await Promise.all([
    readFileIfExists(current.certPath),
    readFileIfExists(current.keyPath),
    readFileIfExists(path.join(stateDir, IDENTITY_FILE)),
    readFileIfExists(path.join(dir, 'previous.json')),
  ]);
  if (kept !== undefined && mark !== undefined && (JSON.parse(mark) as Partial<StoredIdentity>).trial === true) return;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (certPem !== undefined) await writeFileAtomic(path.join(dir, 'device.crt'), certPem, 0o600);
  if (keyPem !== undefined) await writeFileAtomic(path.join(dir, 'device.key'), keyPem, 0o600);
  const record: PreviousRecord = { certPath: current.certPath, keyPath: current.keyPath, mark: mark ?? null };
  await writeFileAtomic(path.join(dir, 'previous.json'), JSON.stringify(record, null, 2) + '\n', 0o600);
}

/** The installed identity has connected: it is no longer on trial, and the previous one is deleted. */
export async function confirmInstalledIdentity(stateDir: string): Promise<void> {
  const markPath = path.join(stateDir, IDENTITY_FILE);
  const mark = await readFileIfExists(markPath);
  if (mark !== undefined) {
    const { trial: _trial, ...stored } = JSON.parse(mark) as StoredIdentity;
    await writeFileAtomic(markPath, JSON.stringify(stored, null, 2) + '\n', 0o600);
  }
  await rm(previousDir(stateDir), { recursive: true, force: true });
}

/**
 * Puts back the identity that the installed one replaced (files and mark) and returns its files;
 * undefined when no previous identity was kept.
 */
export async function restorePreviousIdentity(stateDir: string, caPath: string): Promise<TlsFiles | undefined> {
  const dir = previousDir(stateDir);
  const text = await readFileIfExists(path.join(dir, 'previous.json'));
  if (text === undefined) return undefined;
  const record = JSON.parse(text) as PreviousRecord;
  const [certPem, keyPem] = await Promise.all([readFileIfExists(path.join(dir, 'device.crt')), readFileIfExists(path.join(dir, 'device.key'))]);
  const installed = installedIdentityFiles(stateDir, caPath);
  // Only files the install overwrote are written back (a configured iot.certPath elsewhere was never
  // touched); key, certificate, then the mark: the same order as every identity write.
  if (keyPem !== undefined && record.keyPath === installed.keyPath) await writeFileAtomic(record.keyPath, keyPem, 0o600);
  if (certPem !== undefined && record.certPath === installed.certPath) await writeFileAtomic(record.certPath, certPem, 0o600);
  const markPath = path.join(stateDir, IDENTITY_FILE);
  if (record.mark === null) await rm(markPath, { force: true });
  else await writeFileAtomic(markPath, record.mark, 0o600);
  // The refused identity's key does not stay behind when the previous one lived elsewhere.
  if (record.certPath !== installed.certPath) await rm(installed.certPath, { force: true });
  if (record.keyPath !== installed.keyPath) await rm(installed.keyPath, { force: true });
  await rm(dir, { recursive: true, force: true });
  return { caPath, certPath: record.certPath, keyPath: record.keyPath };
}

/**
 * The files of a complete installed identity (mark says "installed" and names the certificate on disk,
 * the key matches it), or why there is none; `undefined` when nothing was installed. The CA is always
 * the configured one (`caPath`): a ca.pem that older versions wrote beside the identity is ignored.
 */
export async function readInstalledIdentity(stateDir: string, caPath: string): Promise<(TlsFiles & { trial: boolean }) | { broken: string } | undefined> {
  const mark = await readFileIfExists(path.join(stateDir, IDENTITY_FILE));
  if (mark === undefined) return undefined;
  let stored: Partial<StoredIdentity>;
  try {
    stored = JSON.parse(mark) as Partial<StoredIdentity>;
  } catch {
    return { broken: `${IDENTITY_FILE} is damaged` };
  }
  if (stored.source !== 'installed') return undefined;
  const files = installedIdentityFiles(stateDir, caPath);
  const [certPem, keyPem] = await Promise.all([readFileIfExists(files.certPath), readFileIfExists(files.keyPath)]);
  if (certPem === undefined || keyPem === undefined) return { broken: `the installed identity in ${path.dirname(files.certPath)} is incomplete` };
  try {
    if (certificateIdOf(certPem) !== stored.certificateId) return { broken: `${IDENTITY_FILE} names another certificate (an install was interrupted)` };
    if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))) return { broken: `${files.keyPath} does not match ${files.certPath} (an install was interrupted)` };
  } catch (err) {
    return { broken: `cannot read the installed identity: ${(err as Error).message}` };
  }
  return { ...files, trial: stored.trial === true };
}
