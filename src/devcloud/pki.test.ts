// Before @peculiar/x509, which needs the Reflect metadata API at load time.
import 'reflect-metadata';
import { X509Certificate, createPrivateKey, createHash, webcrypto } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLOUD_IDENTITY,
  createCa,
  createSelfSignedServerCertificate,
  ensurePki,
  ensureSelfSignedServerCertificate,
  issueCertificate,
  loadCa,
  signCsr,
  writeCertificate,
  type DevPki,
} from './pki.js';

let dir: string;
let pki: DevPki;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudcam-pki-'));
  pki = await ensurePki(join(dir, 'pki'), ['cam-1', 'cam-2']);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cert(path: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(path));
}
const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;
const EKU_SERVER = '1.3.6.1.5.5.7.3.1';
const EKU_CLIENT = '1.3.6.1.5.5.7.3.2';

describe('ensurePki', () => {
  it('lays out ca, server, cloud and one cert per thing', () => {
    const root = join(dir, 'pki');
    expect(pki.caCertPath).toBe(join(root, 'ca.crt'));
    expect(pki.server).toEqual({ certPath: join(root, 'server.crt'), keyPath: join(root, 'server.key') });
    expect(pki.cloud).toEqual({ certPath: join(root, 'cloud.crt'), keyPath: join(root, 'cloud.key') });
    expect(Object.keys(pki.devices).sort()).toEqual(['cam-1', 'cam-2']);
    expect(pki.devices['cam-1']?.certPath).toBe(join(root, 'devices', 'cam-1.crt'));
  });

  it('writes private keys 0600 and dirs 0700', async () => {
    for (const key of [join(pki.dir, 'ca.key'), pki.server.keyPath, pki.cloud.keyPath, pki.devices['cam-2']!.keyPath]) {
      expect(await mode(key)).toBe(0o600);
      expect(await readFile(key, 'utf8')).toMatch(new RegExp(`^-----BEGIN ${'PRIVATE'} KEY-----`)); // spelled apart so no tracked file looks like a key
    }
    expect(await mode(pki.dir)).toBe(0o700);
    expect(await mode(join(pki.dir, 'devices'))).toBe(0o700);
  });

  it('issues certificates that chain to the CA with the right names and usages', async () => {
    const ca = await cert(pki.caCertPath);
    expect(ca.ca).toBe(true);
    const cases = [
      { paths: pki.server, cn: 'localhost', eku: EKU_SERVER },
      { paths: pki.cloud, cn: CLOUD_IDENTITY, eku: EKU_CLIENT },
      { paths: pki.devices['cam-1']!, cn: 'cam-1', eku: EKU_CLIENT },
    ];
    for (const { paths, cn, eku } of cases) {
      const leaf = await cert(paths.certPath);
      expect(leaf.checkIssued(ca)).toBe(true);
      expect(leaf.verify(ca.publicKey)).toBe(true);
      expect(leaf.ca).toBe(false);
      expect(leaf.subject).toBe(`CN=${cn}`);
      expect(leaf.keyUsage).toEqual([eku]);
      expect(leaf.checkPrivateKey(createPrivateKey(await readFile(paths.keyPath)))).toBe(true);
      expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      // notBefore in the past (clock skew), about two years of validity
      expect(Date.parse(leaf.validFrom)).toBeLessThan(Date.now() - 60_000);
      const years = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / (365 * 86_400_000);
      expect(years).toBeGreaterThan(1.9);
      expect(years).toBeLessThan(2.1);
    }
  });

  it('gives the server certificate SAN DNS:localhost and IP:127.0.0.1', async () => {
    const server = await cert(pki.server.certPath);
    expect(server.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('reuses every existing file on a second run and only adds new things', async () => {
    const files = [pki.caCertPath, join(pki.dir, 'ca.key'), pki.server.certPath, pki.cloud.keyPath, pki.devices['cam-1']!.certPath];
    const before = await Promise.all(files.map((f) => readFile(f, 'utf8')));
    const again = await ensurePki(pki.dir, ['cam-1', 'cam-2', 'cam-3']);
    expect(await Promise.all(files.map((f) => readFile(f, 'utf8')))).toEqual(before);
    const cam3 = await cert(again.devices['cam-3']!.certPath);
    expect(cam3.checkIssued(await cert(pki.caCertPath))).toBe(true);
  });

  it('tightens a loosened key mode on reuse', async () => {
    await chmod(pki.devices['cam-2']!.keyPath, 0o644);
    await ensurePki(pki.dir, ['cam-2']);
    expect(await mode(pki.devices['cam-2']!.keyPath)).toBe(0o600);
  });

  it('re-issues a leaf that another CA signed', async () => {
    const foreign = await createCa('foreign');
    const path = pki.devices['cam-2']!;
    await writeCertificate(join(pki.dir, 'devices'), 'cam-2', await issueCertificate(foreign, { commonName: 'cam-2', usage: 'client' }));
    await ensurePki(pki.dir, ['cam-2']);
    expect((await cert(path.certPath)).checkIssued(await cert(pki.caCertPath))).toBe(true);
  });

  it('rejects bad thing names and an incomplete CA with errors that say what to do', async () => {
    await expect(ensurePki(join(dir, 'bad'), ['cam/1'])).rejects.toThrow(/invalid thing name "cam\/1".*a-zA-Z0-9/);
    await expect(ensurePki(join(dir, 'bad'), ['claim-x'])).rejects.toThrow(/reserved/);
    await expect(ensurePki(join(dir, 'bad'), [CLOUD_IDENTITY])).rejects.toThrow(/reserved/);
    const half = join(dir, 'half');
    await ensurePki(half, []);
    await rm(join(half, 'ca.key'));
    await expect(ensurePki(half, [])).rejects.toThrow(/ca\.key is missing.*delete the whole pki dir/);
  });
});

describe('loadCa / issueCertificate / createCa', () => {
  it('loads the CA from disk and signs certs that verify against ca.crt', async () => {
    const ca = await loadCa(pki);
    expect(ca.certPem).toBe(await readFile(pki.caCertPath, 'utf8'));
    const pair = await issueCertificate(ca, { commonName: 'extra', usage: 'client', serialNumber: '0a0b0c' });
    const leaf = new X509Certificate(pair.certPem);
    expect(leaf.verify((await cert(pki.caCertPath)).publicKey)).toBe(true);
    expect(leaf.serialNumber.toLowerCase()).toBe('0a0b0c');
  });

  it('honours explicit validity, e.g. for expired-cert tests', async () => {
    const ca = await createCa('short', { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-02-01T00:00:00Z') });
    const leaf = await issueCertificate(ca, {
      commonName: 'old',
      usage: 'server',
      notBefore: new Date('2020-01-02T00:00:00Z'),
      notAfter: new Date('2020-01-03T00:00:00Z'),
    });
    expect(new X509Certificate(ca.certPem).validTo).toMatch(/Feb {2}1 00:00:00 2020/);
    expect(new X509Certificate(leaf.certPem).validTo).toMatch(/Jan {2}3 00:00:00 2020/);
  });

  it('reports a missing CA clearly', async () => {
    await expect(loadCa({ ...pki, dir: join(dir, 'nowhere'), caCertPath: join(dir, 'nowhere', 'ca.crt') })).rejects.toThrow(
      /no CA in .*nowhere.*ensurePki/,
    );
  });
});

describe('signCsr', () => {
  async function makeCsr(cn: string): Promise<string> {
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${cn}`,
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    return csr.toString('pem');
  }

  it('signs a valid CSR and returns the AWS-style certificate id', async () => {
    const ca = await loadCa(pki);
    const { certPem, certificateId } = await signCsr(ca, await makeCsr('new-cam'), {});
    const leaf = new X509Certificate(certPem);
    expect(leaf.verify((await cert(pki.caCertPath)).publicKey)).toBe(true);
    expect(leaf.subject).toBe('CN=new-cam');
    expect(leaf.keyUsage).toEqual([EKU_CLIENT]);
    expect(certificateId).toMatch(/^[0-9a-f]{64}$/);
    expect(certificateId).toBe(createHash('sha256').update(leaf.raw).digest('hex'));
  });

  it('lets the caller override the CN', async () => {
    const { certPem } = await signCsr(await loadCa(pki), await makeCsr('ignored'), { commonName: 'cam-9' });
    expect(new X509Certificate(certPem).subject).toBe('CN=cam-9');
  });

  it('rejects a CSR whose content was altered after signing', async () => {
    const pem = await makeCsr('cam-a');
    // Change the subject CN in place: same length, so the DER still parses but the signature breaks.
    const der = Buffer.from(x509.PemConverter.decode(pem)[0]!);
    const at = der.indexOf(Buffer.from('cam-a'));
    expect(at).toBeGreaterThan(0);
    der.write('cam-b', at);
    const tampered = x509.PemConverter.encode(der, 'CERTIFICATE REQUEST');
    await expect(signCsr(await loadCa(pki), tampered, {})).rejects.toThrow(/self-signature does not verify/);
  });

  it('rejects garbage with a clear message', async () => {
    await expect(signCsr(await loadCa(pki), 'not a csr', {})).rejects.toThrow(/invalid CSR/);
  });
});

describe('writeCertificate', () => {
  it('replaces an existing file and resets its mode', async () => {
    const out = join(dir, 'out');
    const first = await writeCertificate(out, 'x', { certPem: 'C1', keyPem: 'K1' });
    await chmod(first.keyPath, 0o666);
    await writeFile(`${first.keyPath}.${process.pid}.tmp`, 'stale', { mode: 0o666 });
    const second = await writeCertificate(out, 'x', { certPem: 'C2', keyPem: 'K2' });
    expect(await readFile(second.keyPath, 'utf8')).toBe('K2');
    expect(await mode(second.keyPath)).toBe(0o600);
  });
});

describe('a camera\'s self-signed HTTPS certificate', () => {
  it('is self-signed for serverAuth with the given names, made once and reused, and made again when its key does not match', async () => {
    const camDir = join(dir, 'cameras');
    const opts = { commonName: 'ACCC8E100001', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };
    const first = await ensureSelfSignedServerCertificate(camDir, 'camera-1', opts);
    const cert = new X509Certificate(first.certPem);
    expect(cert.subject).toBe('CN=ACCC8E100001');
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect((await stat(first.keyPath)).mode & 0o777).toBe(0o600);

    const again = await ensureSelfSignedServerCertificate(camDir, 'camera-1', opts);
    expect(again.certPem).toBe(first.certPem);

    await writeFile(first.keyPath, (await createSelfSignedServerCertificate(opts)).keyPem, { mode: 0o600 });
    const remade = await ensureSelfSignedServerCertificate(camDir, 'camera-1', opts);
    expect(remade.certPem).not.toBe(first.certPem);
    expect(new X509Certificate(remade.certPem).checkPrivateKey(createPrivateKey(remade.keyPem))).toBe(true);
  });
});
