import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../lib/atomic-file.js';

/** devcloud's generated credentials: made on first start, reused after (like the PKI). Mode 0600. */
export interface DevcloudSecrets {
  s3: { accessKeyId: string; secretAccessKey: string };
  cameraPasswords: Record<string, string>;
}

export async function ensureSecrets(stateDir: string, things: string[]): Promise<DevcloudSecrets> {
  const file = path.join(stateDir, 'secrets.json');
  let secrets: DevcloudSecrets | undefined;
  try {
    secrets = JSON.parse(await readFile(file, 'utf8')) as DevcloudSecrets;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${file}: ${(err as Error).message}; delete it to have devcloud make new credentials`, { cause: err });
  }
  let changed = false;
  if (!secrets) {
    changed = true;
    secrets = {
      s3: { accessKeyId: `AKIADEVCLOUD${randomBytes(4).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64url') },
      cameraPasswords: {},
    };
  }
  for (const thing of things) {
    if (!secrets.cameraPasswords[thing]) {
      secrets.cameraPasswords[thing] = randomBytes(12).toString('base64url');
      changed = true;
    }
  }
  if (changed) await writeFileAtomic(file, JSON.stringify(secrets, null, 2) + '\n', 0o600);
  return secrets;
}
