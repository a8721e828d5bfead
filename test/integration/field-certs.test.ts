import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cameraAdd } from '../../src/cli/camera-command.js';
import { setupCertsCli } from '../../src/cli/setup-command.js';
import { createCa, issueCertificate } from '../../src/devcloud/pki.js';
import { addArgs, fieldIo, startFieldKit, type FieldKit } from '../helpers/field.js';

describe('cloudcam setup certs (local validation) against the camera simulator', () => {
  let kit: FieldKit;
  let caFile: string;
  let pair: { certPem: string; keyPem: string };
  beforeEach(async () => {
    kit = await startFieldKit();
    await cameraAdd(addArgs(kit.camera), fieldIo(kit.configHome, kit.camera.password));
    const ca = await createCa('test CA');
    caFile = path.join(kit.dir, 'ca.pem');
    await writeFile(caFile, ca.certPem);
    pair = await issueCertificate(ca, { commonName: 'camera-9', usage: 'client', notAfter: new Date(Date.now() + 30 * 60_000) });
  });
  afterEach(async () => kit.cleanup());

  const files = async (p: { certPem: string; keyPem: string }) => {
    const cert = path.join(kit.dir, 'dev.crt');
    const key = path.join(kit.dir, 'dev.key');
    await writeFile(cert, p.certPem);
    await writeFile(key, p.keyPem, { mode: 0o600 });
    return ['--cert', cert, '--key', key, '--ca', caFile];
  };

  it('accepts a matching bundle and prints subject, fingerprint and expiry (--dry-run)', async () => {
    const io = fieldIo(kit.configHome);
    expect(await setupCertsCli([...(await files(pair)), '--dry-run'], io)).toBe(0);
    expect(io.stdout()).toMatch(/subject +CN=camera-9/);
    expect(io.stdout()).toMatch(/fingerprint +([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    expect(io.stdout()).toContain('key          ECDSA prime256v1');
    expect(io.stdout()).not.toContain('PRIVATE');
  });

  it('says to install the app first when the camera has no cloudcam running', async () => {
    const io = fieldIo(kit.configHome);
    expect(await setupCertsCli(await files(pair), io)).toBe(1);
    expect(io.stdout()).toContain('✓ key matches, chain to the CA, valid by the camera clock');
    expect(io.stdout()).toMatch(/✗ not installed: \/local\/cloudcam\/api\/challenge not found \(HTTP 404\)/);
    expect(io.stdout()).toContain('fix: run `cloudcam install`');
  });

  it('refuses a key that does not match its certificate', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const io = fieldIo(kit.configHome);
    expect(await setupCertsCli(await files({ certPem: pair.certPem, keyPem: other }), io)).toBe(1);
    expect(io.stdout()).toContain('✗ the private key does not belong to this certificate');
  });

  it('judges expiry by the camera clock: valid here, expired on a camera an hour ahead', async () => {
    kit.camera.setClockOffset(3600_000);
    const io = fieldIo(kit.configHome);
    expect(await setupCertsCli(await files(pair), io)).toBe(1);
    expect(io.stdout()).toMatch(/✗ the certificate expired on .* \(camera clock /);
  });

  it('refuses a certificate from another CA, reading the AWS create-keys-and-certificate JSON', async () => {
    const stranger = await createCa('other CA');
    const foreign = await issueCertificate(stranger, { commonName: 'camera-9', usage: 'client' });
    const json = path.join(kit.dir, 'aws.json');
    await writeFile(json, JSON.stringify({ certificateArn: 'arn:x', certificatePem: foreign.certPem, keyPair: { PublicKey: '', PrivateKey: foreign.keyPem } }));
    const io = fieldIo(kit.configHome);
    expect(await setupCertsCli(['--aws-json', json, '--ca', caFile], io)).toBe(1);
    expect(io.stdout()).toContain('✗ the certificate was not signed by the given CA (CN=test CA)');
  });
});
