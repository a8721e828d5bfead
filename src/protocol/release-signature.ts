/**
 * Release signatures (docs/update.md "The release key"): ECDSA P-256 with SHA-256 (DER, base64),
 * by a release key whose public half the agent trusts (certs/release-keys/{keyId}.pem in the
 * package; devcloud's dev key through config only).
 *
 * What is signed is not the package's bytes but a one-line statement naming the package's SHA-256
 * together with the version, architecture and size the job document claims: a signature then
 * cannot be lifted onto a document that relabels an old package as a newer version (a downgrade
 * dressed as an upgrade) or onto another architecture's package. A document that allows a downgrade
 * needs a signature that says so (` downgrade=allowed`): whoever can create jobs without the release
 * key cannot set `allowDowngrade` on a signed document to push an old, vulnerable release.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KEY_ID_PATTERN, type UpdateDocument } from './update-document.js';

export type ReleaseFields = Pick<UpdateDocument, 'version' | 'architecture'> & {
  size: number;
  sha256: string;
  /** The document's allowDowngrade: signed too, so that only the release key can permit a downgrade. */
  allowDowngrade?: boolean;
};

export class ReleaseSignatureError extends Error {
  override readonly name = 'ReleaseSignatureError';
}

const STATEMENT_PREFIX = 'cloudcam-release/v1';

/**
 * The exact bytes the release key signs. ` downgrade=allowed` is added only when the document allows
 * a downgrade, so the statement of an ordinary release is unchanged.
 */
export function releaseStatement(f: ReleaseFields): Buffer {
  const downgrade = f.allowDowngrade ? ' downgrade=allowed' : '';
  return Buffer.from(`${STATEMENT_PREFIX} sha256=${f.sha256} size=${f.size} version=${f.version} architecture=${f.architecture}${downgrade}\n`, 'utf8');
}

/** The curve a release key must use (OpenSSL's name for P-256). */
const P256 = 'prime256v1';

function assertP256(key: KeyObject, what: string): void {
  const curve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
  if (curve !== P256) {
    throw new ReleaseSignatureError(`${what} is ${key.asymmetricKeyType === 'ec' ? `an EC key on ${curve ?? 'an unknown curve'}` : `a ${key.asymmetricKeyType ?? 'non-asymmetric'} key`}, not ECDSA P-256: make one with openssl ecparam -name prime256v1 -genkey (docs/update.md)`);
  }
}

/** Signs the statement with a PEM private key (P-256 only); returns base64 DER. */
export function signRelease(privateKeyPem: string | Buffer, f: ReleaseFields): string {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (err) {
    throw new ReleaseSignatureError(`the signing key is not a readable PEM private key (${(err as Error).message})`);
  }
  assertP256(key, 'the signing key');
  return sign('sha256', releaseStatement(f), { key, dsaEncoding: 'der' }).toString('base64');
}

/** The public half of a PEM private key, as PEM (what goes into certs/release-keys/). */
export function releasePublicKeyPem(privateKeyPem: string | Buffer): string {
  const pub = createPublicKey(createPrivateKey(privateKeyPem));
  assertP256(pub, 'the signing key');
  return pub.export({ type: 'spki', format: 'pem' }).toString();
}

export type ReleaseKeys = ReadonlyMap<string, KeyObject>;

/** Reads one public key file; the keyId is its name without `.pem`. */
export function readReleaseKey(file: string): [string, KeyObject] {
  const keyId = path.basename(file).replace(/\.pem$/, '');
  if (!KEY_ID_PATTERN.test(keyId)) throw new ReleaseSignatureError(`release key ${file}: the file name must be {keyId}.pem with keyId of [a-zA-Z0-9._-]`);
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(file));
  } catch (err) {
    throw new ReleaseSignatureError(`release key ${file} is not a PEM public key (${(err as Error).message})`);
  }
  assertP256(key, `release key ${file}`);
  return [keyId, key];
}

/**
 * The trusted release keys: every `*.pem` in `dir` (missing dir: none) plus the extra files. A key
 * that is not P-256 stops the load with its file name, rather than being silently skipped.
 */
export function loadReleaseKeys(dir: string | undefined, extraFiles: readonly string[] = []): ReleaseKeys {
  const keys = new Map<string, KeyObject>();
  const files: string[] = [];
  if (dir) {
    try {
      for (const f of readdirSync(dir).sort()) if (f.endsWith('.pem')) files.push(path.join(dir, f));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  for (const file of [...files, ...extraFiles]) {
    const [keyId, key] = readReleaseKey(file);
    if (keys.has(keyId)) throw new ReleaseSignatureError(`two release keys are named "${keyId}" (${file}): keyIds must be unique`);
    keys.set(keyId, key);
  }
  return keys;
}

/** Throws ReleaseSignatureError unless `signature` is keyId's signature of these fields. */
export function verifyRelease(keys: ReleaseKeys, keyId: string, signature: string, f: ReleaseFields): void {
  const key = keys.get(keyId);
  if (!key) {
    const known = [...keys.keys()];
    throw new ReleaseSignatureError(`the package is signed with release key "${keyId}", which this agent does not trust (${known.length ? `trusted: ${known.join(', ')}` : 'no release keys are installed'})`);
  }
  assertP256(key, `release key "${keyId}"`);
  const der = Buffer.from(signature, 'base64');
  let ok: boolean;
  try {
    ok = verify('sha256', releaseStatement(f), { key, dsaEncoding: 'der' }, der);
  } catch {
    ok = false; // malformed DER: a wrong signature like any other
  }
  if (!ok) {
    const downgrade = f.allowDowngrade ? ', downgrade allowed: the release key must sign that too (cloudcam fleet update --allow-downgrade)' : '';
    throw new ReleaseSignatureError(`the release signature does not match this package (sha256 ${f.sha256.slice(0, 16)}…, version ${f.version}, ${f.architecture}${downgrade}) under key "${keyId}": refusing to install it`);
  }
}
