import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildEap } from '../protocol/eap.js';
import { presignedUrlPlaceholder } from '../protocol/presigned-url-placeholder.js';
import { loadReleaseKeys, verifyRelease } from '../protocol/release-signature.js';
import { packageFacts, releaseDocument, releaseJobId } from './release-document.js';

describe('release documents', () => {
  it('reads version and architecture from an .eap manifest and a gateway tarball name', () => {
    const eap = buildEap({ appName: 'cloudcam', version: '1.4.0', architecture: 'aarch64' });
    expect(packageFacts('cloudcam_1.4.0_aarch64.eap', eap)).toEqual({ version: '1.4.0', architecture: 'aarch64', kind: 'eap' });
    expect(packageFacts('/x/cloudcam_1.4.0_linux-armv7l.tar.gz', Buffer.from('x'))).toEqual({ version: '1.4.0', architecture: 'armv7hf', kind: 'gateway' });
    expect(packageFacts('build.tar.gz', Buffer.from('x'), { version: '2.0.0', architecture: 'x86_64' })).toMatchObject({ version: '2.0.0', architecture: 'x86_64' });
    expect(() => packageFacts('cloudcam_1.4.0_aarch64.eap', eap, { version: '1.5.0' })).toThrow(/--version 1.5.0 contradicts the package, which says 1.4.0/);
    expect(() => packageFacts('build.tar.gz', Buffer.from('x'))).toThrow(/pass --version/);
    expect(() => packageFacts('build.tar.gz', Buffer.from('x'), { version: '1.0.0', architecture: 'mips' })).toThrow(/pass --architecture/);
  });

  it('signs a document the agent verifies, with the presigned-URL placeholder', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const dir = mkdtempSync(path.join(tmpdir(), 'keys-'));
    writeFileSync(path.join(dir, 'rel-1.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    const bytes = buildEap({ appName: 'cloudcam', version: '1.4.0', architecture: 'armv7hf' });
    const facts = packageFacts('cloudcam_1.4.0_armv7hf.eap', bytes);
    const url = presignedUrlPlaceholder('releases-bucket', 'releases/1.4.0/cloudcam_1.4.0_armv7hf.eap');
    const doc = releaseDocument({ bytes, facts, url, signingKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), keyId: 'rel-1' });
    expect(doc.package.url).toBe(url);
    verifyRelease(loadReleaseKeys(dir), 'rel-1', doc.package.signature, { sha256: doc.package.sha256, size: bytes.length, version: '1.4.0', architecture: 'armv7hf' });
    // --allow-downgrade is signed with the rest; the agent checks the document's flag against it.
    const down = releaseDocument({ bytes, facts, url, signingKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), keyId: 'rel-1', allowDowngrade: true });
    expect(down.allowDowngrade).toBe(true);
    verifyRelease(loadReleaseKeys(dir), 'rel-1', down.package.signature, { sha256: down.package.sha256, size: bytes.length, version: '1.4.0', architecture: 'armv7hf', allowDowngrade: true });
    expect(() => verifyRelease(loadReleaseKeys(dir), 'rel-1', doc.package.signature, { sha256: doc.package.sha256, size: bytes.length, version: '1.4.0', architecture: 'armv7hf', allowDowngrade: true })).toThrow(/downgrade allowed/);
    expect(releaseJobId('1.4.0-rc.1', 'aarch64', new Date('2026-12-01T07:00:00.123Z'), 'a1b2c3')).toBe('update-1_4_0-rc_1-aarch64-20261201T070000Z-a1b2c3');
    expect(releaseJobId('1.0.0', 'x86_64')).not.toBe(releaseJobId('1.0.0', 'x86_64'));
  });
});
