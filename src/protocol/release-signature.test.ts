import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadReleaseKeys, ReleaseSignatureError, releasePublicKeyPem, releaseStatement, signRelease, verifyRelease, type ReleaseFields } from './release-signature.js';

function p256(): { priv: string; pub: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { priv: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), pub: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function keyDir(keys: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'release-keys-'));
  for (const [name, pem] of Object.entries(keys)) writeFileSync(path.join(dir, name), pem);
  return dir;
}

const fields: ReleaseFields = { version: '1.4.0', architecture: 'aarch64', size: 1234, sha256: 'ab'.repeat(32) };

describe('release signatures', () => {
  const current = p256();
  const next = p256();
  const keys = loadReleaseKeys(keyDir({ 'release-2026.pem': current.pub, 'release-2027.pem': next.pub, 'README.md': 'not a key' }));

  it('verifies a signature by any trusted key (rotation: two keys side by side)', () => {
    expect([...keys.keys()]).toEqual(['release-2026', 'release-2027']);
    verifyRelease(keys, 'release-2026', signRelease(current.priv, fields), fields);
    verifyRelease(keys, 'release-2027', signRelease(next.priv, fields), fields);
    expect(releasePublicKeyPem(current.priv)).toBe(current.pub);
  });

  it('refuses a signature over a different hash, version, architecture or size', () => {
    const signature = signRelease(current.priv, fields);
    for (const other of [{ sha256: 'cd'.repeat(32) }, { version: '9.9.9' }, { architecture: 'armv7hf' as const }, { size: 1235 }]) {
      expect(() => verifyRelease(keys, 'release-2026', signature, { ...fields, ...other })).toThrow(/does not match this package/);
    }
  });

  it('binds allowDowngrade: a signature of an ordinary release does not permit a downgrade, and the ordinary statement is unchanged', () => {
    expect(releaseStatement(fields).toString()).toBe(`cloudcam-release/v1 sha256=${'ab'.repeat(32)} size=1234 version=1.4.0 architecture=aarch64\n`);
    const ordinary = signRelease(current.priv, fields);
    expect(() => verifyRelease(keys, 'release-2026', ordinary, { ...fields, allowDowngrade: true })).toThrow(/downgrade allowed: the release key must sign that too/);
    const downgrade = signRelease(current.priv, { ...fields, allowDowngrade: true });
    verifyRelease(keys, 'release-2026', downgrade, { ...fields, allowDowngrade: true });
    expect(() => verifyRelease(keys, 'release-2026', downgrade, fields)).toThrow(/does not match/);
  });

  it('refuses a signature made by the other key than the one named, and garbage', () => {
    expect(() => verifyRelease(keys, 'release-2027', signRelease(current.priv, fields), fields)).toThrow(ReleaseSignatureError);
    expect(() => verifyRelease(keys, 'release-2026', Buffer.from('garbage').toString('base64'), fields)).toThrow(/does not match/);
  });

  it('refuses an unknown keyId, naming the trusted ones', () => {
    expect(() => verifyRelease(keys, 'someone-else', signRelease(current.priv, fields), fields)).toThrow(/"someone-else", which this agent does not trust \(trusted: release-2026, release-2027\)/);
    expect(() => verifyRelease(new Map(), 'x', 'AAAA', fields)).toThrow(/no release keys are installed/);
  });

  it('refuses keys on the wrong curve or of another type, when loading and when signing', () => {
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(() => loadReleaseKeys(keyDir({ 'bad.pem': k1.publicKey.export({ type: 'spki', format: 'pem' }).toString() }))).toThrow(/bad.pem is an EC key on secp256k1, not ECDSA P-256/);
    expect(() => loadReleaseKeys(keyDir({ 'rsa.pem': rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString() }))).toThrow(/a rsa key, not ECDSA P-256/);
    expect(() => signRelease(k1.privateKey.export({ type: 'pkcs8', format: 'pem' }), fields)).toThrow(/not ECDSA P-256/);
    // A secp256k1 signature of the same statement under a P-256 keyId is just a wrong signature.
    const forged = sign('sha256', releaseStatement(fields), { key: k1.privateKey, dsaEncoding: 'der' }).toString('base64');
    expect(() => verifyRelease(keys, 'release-2026', forged, fields)).toThrow(/does not match/);
  });

  it('loads an extra key file (devcloud) and treats a missing dir as no keys', () => {
    const extra = path.join(keyDir({ 'dev.pem': next.pub }), 'dev.pem');
    expect([...loadReleaseKeys(path.join(tmpdir(), 'no-such-dir-cloudcam'), [extra]).keys()]).toEqual(['dev']);
    expect(() => loadReleaseKeys(keyDir({ 'dev.pem': current.pub }), [extra])).toThrow(/two release keys are named "dev"/);
  });
});
