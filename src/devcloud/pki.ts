/**
 * The devcloud's private PKI: one CA, a server certificate for the local endpoints, a client certificate
 * for the cloud side and one per simulated thing. ECDSA P-256 keys (accepted by AWS IoT, OpenSSL and
 * aws-crt), PKCS#8 PEM private keys with mode 0600.
 */
import { webcrypto, createHash, createPrivateKey, randomBytes, X509Certificate as NodeX509 } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { CLAIM_PREFIX, CLOUD_IDENTITY, assertThingName } from './broker/acl.js';
import { readFileIfExists, writeFileAtomic } from '../lib/atomic-file.js';
import { writeCrl } from './crl.js';

export { CLOUD_IDENTITY };
/** CN of devcloud's fleet claim certificate (DIR/pki/claim.crt): the broker lets it use the provisioning topics only. */
export const CLAIM_IDENTITY = `${CLAIM_PREFIX}devcloud`;

// Our lib has no DOM types; node:crypto carries the WebCrypto ones.
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto);

export interface CertPaths {
  certPath: string;
  keyPath: string;
}

export interface DevPki {
  dir: string;
  caCertPath: string;
  /** CN=localhost, SAN DNS:localhost + IP:127.0.0.1, serverAuth EKU. */
  server: CertPaths;
  /** CN=CLOUD_IDENTITY, clientAuth EKU. */
  cloud: CertPaths;
  /** One per thing name: CN=thing, clientAuth EKU. */
  devices: Record<string, CertPaths>;
  /** The fleet's shared claim certificate, CN=CLAIM_IDENTITY. */
  claim: CertPaths;
  /** Deactivated certificates (crl.ts); both brokers refuse them. */
  crlPath: string;
}

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
  cert: x509.X509Certificate;
  privateKey: CryptoKey;
}

export interface IssueOptions {
  commonName: string;
  usage: 'server' | 'client';
  dnsNames?: string[];
  ipAddresses?: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Hex; random when absent. */
  serialNumber?: string;
}

const EC_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const CLOCK_SKEW_MS = 5 * 60_000;
const DAY_MS = 86_400_000;
const CA_VALIDITY_MS = 10 * 365 * DAY_MS;
const LEAF_VALIDITY_MS = 2 * 365 * DAY_MS;
/** A reused leaf must stay valid at least this long, or it is re-issued. */
const RENEW_BEFORE_MS = DAY_MS;

function notBeforeDefault(): Date {
  return new Date(Date.now() - CLOCK_SKEW_MS);
}

/** 16 random bytes, high bit clear so the DER INTEGER stays positive without a padding byte. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function subjectOf(commonName: string): x509.JsonName {
  return [{ CN: [commonName] }];
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKeyPem(pem: string, what: string): Promise<CryptoKey> {
  try {
    const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
    return await webcrypto.subtle.importKey('pkcs8', der, EC_KEY, true, ['sign']);
  } catch (err) {
    throw new Error(`cannot read ${what} as an ECDSA P-256 private key (${(err as Error).message}); delete it to regenerate`, {
      cause: err,
    });
  }
}

export async function createCa(
  commonName: string,
  opts: { notBefore?: Date; notAfter?: Date } = {},
): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const notBefore = opts.notBefore ?? notBeforeDefault();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: subjectOf(commonName),
    notBefore,
    notAfter: opts.notAfter ?? new Date(notBefore.getTime() + CA_VALIDITY_MS),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey), cert, privateKey: keys.privateKey };
}

async function signLeaf(
  ca: CertificateAuthority,
  publicKey: CryptoKey | x509.PublicKey,
  opts: IssueOptions,
): Promise<x509.X509Certificate> {
  const notBefore = opts.notBefore ?? notBeforeDefault();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(
      [opts.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
      false,
    ),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
  ];
  const names: x509.JsonGeneralNames = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  return x509.X509CertificateGenerator.create({
    serialNumber: opts.serialNumber ?? randomSerial(),
    subject: subjectOf(opts.commonName),
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter: opts.notAfter ?? new Date(notBefore.getTime() + LEAF_VALIDITY_MS),
    signingAlgorithm: SIGNING,
    publicKey,
    signingKey: ca.privateKey,
    extensions,
  });
}

export async function issueCertificate(
  ca: CertificateAuthority,
  opts: IssueOptions,
): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeys();
  const cert = await signLeaf(ca, keys.publicKey, opts);
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/**
 * Signs a PEM CSR as a client certificate (fleet provisioning by claim). certificateId is what AWS IoT
 * calls the certificate id: the SHA-256 of the certificate DER, in hex.
 */
export async function signCsr(
  ca: CertificateAuthority,
  csrPem: string,
  opts: { commonName?: string; notAfter?: Date; serialNumber?: string } = {},
): Promise<{ certPem: string; certificateId: string }> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new Error(`invalid CSR: not a PEM/DER PKCS#10 certificate request (${(err as Error).message})`, { cause: err });
  }
  let signatureOk: boolean;
  try {
    signatureOk = await csr.verify();
  } catch (err) {
    throw new Error(`invalid CSR: cannot check its signature (${(err as Error).message}); use an ECDSA P-256 or RSA key`, { cause: err });
  }
  if (!signatureOk) throw new Error('invalid CSR: its self-signature does not verify (altered or signed with another key)');
  const commonName = opts.commonName ?? csr.subjectName.getField('CN')[0];
  if (!commonName) throw new Error('invalid CSR: it has no subject CN and no commonName was given');
  const cert = await signLeaf(ca, csr.publicKey, {
    commonName,
    usage: 'client',
    ...(opts.notAfter ? { notAfter: opts.notAfter } : {}),
    ...(opts.serialNumber ? { serialNumber: opts.serialNumber } : {}),
  });
  const certificateId = createHash('sha256').update(Buffer.from(cert.rawData)).digest('hex');
  return { certPem: cert.toString('pem'), certificateId };
}

/** Writes DIR/NAME.crt and DIR/NAME.key (0600); each by rename so a crash never leaves half a file. */
export async function writeCertificate(
  dir: string,
  name: string,
  pair: { certPem: string; keyPem: string },
): Promise<CertPaths> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  await writeFileAtomic(keyPath, pair.keyPem, 0o600);
  await writeFileAtomic(certPath, pair.certPem, 0o644);
  return { certPath, keyPath };
}

function caPaths(dir: string): CertPaths {
  return { certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') };
}

async function readCa(paths: CertPaths): Promise<CertificateAuthority | undefined> {
  const [certPem, keyPem] = await Promise.all([readFileIfExists(paths.certPath), readFileIfExists(paths.keyPath)]);
  if (certPem === undefined && keyPem === undefined) return undefined;
  if (certPem === undefined || keyPem === undefined) {
    const missing = certPem === undefined ? paths.certPath : paths.keyPath;
    throw new Error(`incomplete CA: ${missing} is missing; restore it, or delete the whole pki dir to start over`);
  }
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch (err) {
    throw new Error(`cannot parse ${paths.certPath} (${(err as Error).message}); delete the pki dir to start over`, {
      cause: err,
    });
  }
  const privateKey = await importKeyPem(keyPem, paths.keyPath);
  if (!new NodeX509(certPem).checkPrivateKey(createPrivateKey(keyPem))) {
    throw new Error(`${paths.keyPath} does not belong to ${paths.certPath}; delete the pki dir to start over`);
  }
  return { certPem, keyPem, cert, privateKey };
}

export async function loadCa(pki: DevPki): Promise<CertificateAuthority> {
  const ca = await readCa({ certPath: pki.caCertPath, keyPath: join(pki.dir, 'ca.key') });
  if (!ca) throw new Error(`no CA in ${pki.dir}: run ensurePki (cloudcam devcloud) first`);
  return ca;
}

/** A leaf is reused only if it parses, was issued by this CA, matches its key and is not about to expire. */
async function isUsableLeaf(paths: CertPaths, ca: CertificateAuthority): Promise<boolean> {
  const [certPem, keyPem] = await Promise.all([readFileIfExists(paths.certPath), readFileIfExists(paths.keyPath)]);
  if (certPem === undefined || keyPem === undefined) return false;
  try {
    const cert = new NodeX509(certPem);
    const caCert = new NodeX509(ca.certPem);
    return (
      cert.checkIssued(caCert) &&
      cert.verify(caCert.publicKey) &&
      cert.checkPrivateKey(createPrivateKey(keyPem)) &&
      Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_MS
    );
  } catch {
    return false;
  }
}

async function ensureLeaf(dir: string, name: string, ca: CertificateAuthority, opts: IssueOptions): Promise<CertPaths> {
  const paths = { certPath: join(dir, `${name}.crt`), keyPath: join(dir, `${name}.key`) };
  if (await isUsableLeaf(paths, ca)) {
    // Keep the key private even if someone loosened its mode since the last start.
    await chmod(paths.keyPath, 0o600);
    return paths;
  }
  return writeCertificate(dir, name, await issueCertificate(ca, opts));
}

/**
 * A camera's own HTTPS certificate, self-signed like the one an Axis camera makes for itself before
 * anyone installs a CA-issued one (Axis: "Certificate management API", create self-signed
 * certificate). CN = the camera's serial number; SAN = the names and addresses it answers on.
 */
export async function createSelfSignedServerCertificate(opts: {
  commonName: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  notBefore?: Date;
  notAfter?: Date;
}): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeys();
  const notBefore = opts.notBefore ?? notBeforeDefault();
  const names: x509.JsonGeneralNames = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: subjectOf(opts.commonName),
    notBefore,
    notAfter: opts.notAfter ?? new Date(notBefore.getTime() + LEAF_VALIDITY_MS),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/**
 * DIR/NAME.crt/.key: the camera's self-signed certificate, made once and reused on every start (a
 * camera keeps its certificate across reboots, so a pin made yesterday still holds). Made again only
 * when unreadable, not matching its key, or about to expire.
 */
export async function ensureSelfSignedServerCertificate(
  dir: string,
  name: string,
  opts: { commonName: string; dnsNames?: string[]; ipAddresses?: string[] },
): Promise<CertPaths & { certPem: string; keyPem: string }> {
  const paths = { certPath: join(dir, `${name}.crt`), keyPath: join(dir, `${name}.key`) };
  const [certPem, keyPem] = await Promise.all([readFileIfExists(paths.certPath), readFileIfExists(paths.keyPath)]);
  if (certPem !== undefined && keyPem !== undefined) {
    try {
      const cert = new NodeX509(certPem);
      if (cert.checkPrivateKey(createPrivateKey(keyPem)) && cert.verify(cert.publicKey) && Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_MS) {
        await chmod(paths.keyPath, 0o600);
        return { ...paths, certPem, keyPem };
      }
    } catch {
      // Unreadable: made again below.
    }
  }
  const pair = await createSelfSignedServerCertificate(opts);
  return { ...(await writeCertificate(dir, name, pair)), ...pair };
}

/** Creates what is missing under dir and reuses what exists, so a second start keeps every certificate. */
export async function ensurePki(dir: string, things: string[]): Promise<DevPki> {
  for (const thing of things) assertThingName(thing);
  const devicesDir = join(dir, 'devices');
  await mkdir(devicesDir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await chmod(devicesDir, 0o700);

  const caFiles = caPaths(dir);
  let ca = await readCa(caFiles);
  const crlPath = join(dir, 'crl.pem');
  if (!ca) {
    ca = await createCa('cloudcam devcloud CA');
    await writeCertificate(dir, 'ca', ca);
    await writeCrl(crlPath, ca, []); // a list from an earlier CA would not verify
  } else if ((await readFileIfExists(crlPath)) === undefined) {
    await writeCrl(crlPath, ca, []);
  }

  const server = await ensureLeaf(dir, 'server', ca, {
    commonName: 'localhost',
    usage: 'server',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  const cloud = await ensureLeaf(dir, 'cloud', ca, { commonName: CLOUD_IDENTITY, usage: 'client' });
  const claim = await ensureLeaf(dir, 'claim', ca, { commonName: CLAIM_IDENTITY, usage: 'client' });
  const devices: Record<string, CertPaths> = {};
  for (const thing of things) {
    devices[thing] = await ensureLeaf(devicesDir, thing, ca, { commonName: thing, usage: 'client' });
  }
  return { dir, caCertPath: caFiles.certPath, server, cloud, devices, claim, crlPath };
}
