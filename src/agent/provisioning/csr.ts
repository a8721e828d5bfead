/**
 * A key pair and a PKCS#10 certificate signing request (RFC 2986), made on the device with
 * node:crypto alone: the private key never leaves the camera, only the CSR does.
 *
 * A hand-written DER encoder (docs/decisions.md, "Our own PKCS#10 encoder"): a CSR with one CN and
 * no attributes is five nested structures, and @peculiar/x509 would add its ASN.1 stack, tsyringe and
 * reflect-metadata to the camera bundle for them.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export type DeviceKeyType = 'ec-p256' | 'rsa-2048';

export interface DeviceKey {
  /** PKCS#8 PEM: written to disk only once the certificate made for it is registered. */
  privateKeyPem: string;
  privateKey: KeyObject;
  /** SubjectPublicKeyInfo DER, for recognising the certificate made from the CSR. */
  publicKeySpki: Buffer;
}

export function generateDeviceKey(type: DeviceKeyType = 'ec-p256'): DeviceKey {
  const { privateKey } =
    type === 'ec-p256' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return fromPrivateKey(privateKey);
}

export function fromPrivateKey(privateKey: KeyObject | string): DeviceKey {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  return {
    privateKey: key,
    privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeySpki: createPublicKey(key).export({ type: 'spki', format: 'der' }),
  };
}

// --- DER ------------------------------------------------------------------------------------

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const SEQUENCE = 0x30;
const SET = 0x31;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const UTF8_STRING = 0x0c;
/** [0] IMPLICIT, constructed: the CSR's attributes (none here). */
const CONTEXT_0 = 0xa0;

const OID_COMMON_NAME = Buffer.from('0603550403', 'hex'); // 2.5.4.3
const ALG_ECDSA_SHA256 = tlv(SEQUENCE, Buffer.from('06082a8648ce3d040302', 'hex')); // 1.2.840.10045.4.3.2, no parameters (RFC 5758)
const ALG_RSA_SHA256 = tlv(SEQUENCE, Buffer.from('06092a864886f70d01010b', 'hex'), Buffer.from('0500', 'hex')); // 1.2.840.113549.1.1.11, NULL

/** The CSR in PEM, signed with SHA-256 by the key it carries. */
export function createCsr(key: DeviceKey, commonName: string): string {
  if (commonName === '' || Buffer.byteLength(commonName) > 64) throw new Error(`CSR common name must be 1-64 bytes, got ${JSON.stringify(commonName)}`);
  const subject = tlv(SEQUENCE, tlv(SET, tlv(SEQUENCE, OID_COMMON_NAME, tlv(UTF8_STRING, Buffer.from(commonName, 'utf8')))));
  const info = tlv(SEQUENCE, tlv(INTEGER, Buffer.from([0])), subject, key.publicKeySpki, tlv(CONTEXT_0));
  const type = key.privateKey.asymmetricKeyType;
  if (type !== 'ec' && type !== 'rsa') throw new Error(`cannot make a CSR for a ${String(type)} key: use ECDSA P-256 or RSA`);
  // node:crypto signs ECDSA as a DER Ecdsa-Sig-Value, which is what PKCS#10 carries.
  const signature = sign('sha256', info, key.privateKey);
  const der = tlv(SEQUENCE, info, type === 'ec' ? ALG_ECDSA_SHA256 : ALG_RSA_SHA256, tlv(BIT_STRING, Buffer.from([0]), signature));
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`;
}
