import { X509Certificate } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCa, signCsr } from '../../devcloud/pki.js';
import { createCsr, generateDeviceKey } from './csr.js';

x509.cryptoProvider.set(webcrypto);

describe('the hand-written PKCS#10 encoder', () => {
  for (const type of ['ec-p256', 'rsa-2048'] as const) {
    it(`makes a ${type} CSR that an independent parser reads and verifies, and a CA signs for that key`, async () => {
      const key = generateDeviceKey(type);
      const pem = createCsr(key, 'ACCC8E200001');
      const csr = new x509.Pkcs10CertificateRequest(pem);
      expect(csr.subject).toBe('CN=ACCC8E200001');
      expect(await csr.verify()).toBe(true);
      expect(Buffer.from(csr.publicKey.rawData).equals(key.publicKeySpki)).toBe(true);

      const ca = await createCa('test CA');
      const { certPem } = await signCsr(ca, pem, { commonName: 'cert-test' });
      expect(new X509Certificate(certPem).checkPrivateKey(key.privateKey)).toBe(true);
    });
  }

  it('is refused when altered after signing', async () => {
    const pem = createCsr(generateDeviceKey(), 'ACCC8E200001');
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const at = der.indexOf(Buffer.from('ACCC8E200001'));
    der[at] = 'B'.charCodeAt(0);
    const ca = await createCa('test CA');
    await expect(signCsr(ca, der.toString('base64'))).rejects.toThrow(/signature does not verify|invalid CSR/);
  });

  it('never carries the private key', () => {
    const key = generateDeviceKey();
    const pem = createCsr(key, 'x');
    const scalar = Buffer.from(key.privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
    expect(scalar).toHaveLength(32);
    expect(pem).not.toContain('PRIVATE');
    expect(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64').includes(scalar)).toBe(false);
  });
});
