/**
 * devcloud's dev release key (docs/update.md): made once per state dir, its private key 0600 in
 * DIR/release-key/ (what `cloudcam fleet update --devcloud DIR` signs with), its public key trusted
 * by devcloud's own agents through update.extraReleaseKeyPath only. It is never shipped in a
 * package: certs/release-keys/ holds production keys alone.
 */
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { readFileIfExists, writeFileAtomic } from '../lib/atomic-file.js';
import { releasePublicKeyPem } from '../protocol/release-signature.js';

export const DEV_RELEASE_KEY_ID = 'devcloud-dev';

export interface DevReleaseKey {
  keyId: string;
  privateKeyPath: string;
  /** {keyId}.pem: the file name is the keyId the agent looks it up by. */
  publicKeyPath: string;
}

export function devReleaseKeyPaths(stateDir: string): DevReleaseKey {
  const dir = path.join(stateDir, 'release-key');
  return { keyId: DEV_RELEASE_KEY_ID, privateKeyPath: path.join(dir, `${DEV_RELEASE_KEY_ID}.key`), publicKeyPath: path.join(dir, `${DEV_RELEASE_KEY_ID}.pem`) };
}

/** Makes the key pair if the state dir has none; keeps an existing one (agents already trust it). */
export async function ensureDevReleaseKey(stateDir: string): Promise<DevReleaseKey> {
  const paths = devReleaseKeyPaths(stateDir);
  await mkdir(path.dirname(paths.privateKeyPath), { recursive: true, mode: 0o700 });
  let privatePem = await readFileIfExists(paths.privateKeyPath);
  if (privatePem === undefined) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFileAtomic(paths.privateKeyPath, privatePem, 0o600);
  }
  await chmod(paths.privateKeyPath, 0o600);
  const publicPem = releasePublicKeyPem(privatePem);
  if ((await readFileIfExists(paths.publicKeyPath)) !== publicPem) await writeFileAtomic(paths.publicKeyPath, publicPem, 0o644);
  return paths;
}

export async function readDevReleaseKey(stateDir: string): Promise<{ keyId: string; privatePem: string }> {
  const paths = devReleaseKeyPaths(stateDir);
  try {
    return { keyId: paths.keyId, privatePem: await readFile(paths.privateKeyPath, 'utf8') };
  } catch (err) {
    throw new Error(`devcloud ${stateDir} has no dev release key (${(err as NodeJS.ErrnoException).code ?? String(err)}): start it with this version of cloudcam devcloud, or pass --signing-key FILE`, { cause: err });
  }
}
