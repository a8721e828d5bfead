import { describe, expect, it } from 'vitest';
import { CertificatePinError, describeTlsFailure, normaliseFingerprint } from './camera-tls.js';

const FP = 'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89';

describe('camera certificate fingerprints and TLS failures', () => {
  it('takes a SHA-256 fingerprint with or without colons, in any case, with an optional SHA256 prefix', () => {
    expect(normaliseFingerprint(FP)).toBe(FP);
    expect(normaliseFingerprint(FP.replace(/:/g, '').toLowerCase())).toBe(FP);
    expect(normaliseFingerprint(`sha256=${FP.toLowerCase()}`)).toBe(FP);
    expect(normaliseFingerprint(` SHA256 ${FP} `)).toBe(FP);
  });

  it('refuses what is not 64 hex digits, saying what it wants', () => {
    expect(() => normaliseFingerprint(FP.slice(0, -3))).toThrow(/64 hex digits/);
    expect(() => normaliseFingerprint('SHA1 AB:CD')).toThrow(/not a SHA-256 fingerprint/);
    expect(() => normaliseFingerprint(FP.replace('AB', 'XY'))).toThrow(RangeError);
  });

  it('names each TLS failure and its fix; other errors are not TLS failures', () => {
    expect(describeTlsFailure(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }))?.problem).toMatch(/not trusted/);
    expect(describeTlsFailure(Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' }))?.fix).toMatch(/clock/);
    expect(describeTlsFailure(Object.assign(new Error("Hostname/IP does not match certificate's altnames"), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }))?.problem).toMatch(/does not name the address/);
    expect(describeTlsFailure(Object.assign(new Error('wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }))?.fix).toMatch(/serves HTTPS/);
    expect(describeTlsFailure(new CertificatePinError(FP, FP.replace('AB', '00')))?.problem).toContain(`not the pinned SHA256 ${FP}`);
    expect(describeTlsFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(describeTlsFailure('nope')).toBeUndefined();
  });
});
