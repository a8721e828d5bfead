import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';

/** certs/ (the packaged agent's default broker trust) must be exactly what Node's root store carries. */
describe('certs/ Amazon roots', () => {
  const fromNode = (cn: string): string => {
    const found = tls.rootCertificates.filter((pem) => new X509Certificate(pem).subject.split('\n').includes(`CN=${cn}`));
    expect(found).toHaveLength(1);
    return found[0]!.trim() + '\n';
  };

  it('AmazonRootCA1.pem and AmazonRootCA3.pem equal Node tls.rootCertificates entries, and the bundle holds both', () => {
    const ca1 = readFileSync('certs/AmazonRootCA1.pem', 'utf8');
    const ca3 = readFileSync('certs/AmazonRootCA3.pem', 'utf8');
    expect(ca1).toBe(fromNode('Amazon Root CA 1'));
    expect(ca3).toBe(fromNode('Amazon Root CA 3'));
    expect(new X509Certificate(ca1).subject).toBe('C=US\nO=Amazon\nCN=Amazon Root CA 1');
    expect(new X509Certificate(ca3).subject).toBe('C=US\nO=Amazon\nCN=Amazon Root CA 3');
    // Published by Amazon Trust Services (https://www.amazontrust.com/repository/).
    expect(new X509Certificate(ca1).fingerprint256).toBe('8E:CD:E6:88:4F:3D:87:B1:12:5B:A3:1A:C3:FC:B1:3D:70:16:DE:7F:57:CC:90:4F:E1:CB:97:C6:AE:98:19:6E');
    expect(readFileSync('certs/AmazonRootCAs.pem', 'utf8')).toBe(ca1 + ca3);
  });

  it('the extraction script reproduces them offline', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cloudcam-roots-'));
    try {
      execFileSync(process.execPath, ['scripts/extract-amazon-roots.mjs', dir]);
      for (const f of ['AmazonRootCA1.pem', 'AmazonRootCA3.pem', 'AmazonRootCAs.pem']) expect(readFileSync(path.join(dir, f), 'utf8')).toBe(readFileSync(path.join('certs', f), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
