import { describe, expect, it } from 'vitest';
import { presignedUrlPlaceholder } from './presigned-url-placeholder.js';
import { agentArchitecture, parseUpdateDocument, versionProblem } from './update-document.js';

const valid = {
  operation: 'cloudcam.update',
  version: '1.4.0',
  architecture: 'aarch64',
  package: { url: 'https://bucket.s3.amazonaws.com/releases/x.eap?X-Amz-Signature=abc', size: 41234567, sha256: 'a'.repeat(64), signature: 'MEUCIQDabcdefgh+/==', keyId: 'release-2026' },
  allowDowngrade: false,
};

const withPackage = (p: Record<string, unknown>): unknown => ({ ...valid, package: { ...valid.package, ...p } });

describe('parseUpdateDocument', () => {
  it('accepts the documented document and defaults allowDowngrade to false', () => {
    expect(parseUpdateDocument(valid, 'delivered')).toEqual(valid);
    const { allowDowngrade: _omit, ...rest } = valid;
    expect(parseUpdateDocument(rest, 'delivered').allowDowngrade).toBe(false);
  });

  it('accepts the presigned-URL placeholder in a template but not once delivered', () => {
    const doc = withPackage({ url: presignedUrlPlaceholder('rel-bucket', 'releases/1.4.0/cloudcam_1.4.0_aarch64.eap') });
    expect(parseUpdateDocument(doc, 'template').package.url).toBe('${aws:iot:s3-presigned-url:https://s3.amazonaws.com/rel-bucket/releases/1.4.0/cloudcam_1.4.0_aarch64.eap}');
    expect(() => parseUpdateDocument(doc, 'delivered')).toThrow(/still the .*placeholder.*presignedUrlConfig/);
  });

  it.each([
    ['not an object', [], /JSON object/],
    ['another operation', { ...valid, operation: 'cloudcam.restart' }, /operation must be "cloudcam.update"/],
    ['a v-prefixed version', { ...valid, version: 'v1.4.0' }, /semantic version/],
    // The version names a release folder (gateway) and a kept .eap (camera), and the launcher reads it.
    ['a version that climbs out of its folder', { ...valid, version: '1.0.0-../../x' }, /semantic version/],
    ['a version with a slash', { ...valid, version: '1.0.0+a/b' }, /semantic version/],
    ['a version with shell syntax', { ...valid, version: '1.0.0+$(id)' }, /semantic version/],
    ['a version too long to name a folder', { ...valid, version: `1.0.0-${'a'.repeat(59)}` }, /at most 64 characters/],
    ['an unknown architecture', { ...valid, architecture: 'mips' }, /architecture must be one of/],
    ['an unknown field', { ...valid, extra: 1 }, /unknown field "extra"/],
    ['an unknown package field', withPackage({ md5: 'x' }), /unknown field "package.md5"/],
    ['a non-boolean allowDowngrade', { ...valid, allowDowngrade: 'yes' }, /allowDowngrade/],
    ['an ftp url', withPackage({ url: 'ftp://x/y' }), /https/],
    ['a url with credentials', withPackage({ url: 'https://u:p@x/y' }), /credentials/],
    ['a zero size', withPackage({ size: 0 }), /package.size/],
    ['a fractional size', withPackage({ size: 1.5 }), /package.size/],
    ['an upper-case hash', withPackage({ sha256: 'A'.repeat(64) }), /package.sha256/],
    ['a short hash', withPackage({ sha256: 'a'.repeat(63) }), /package.sha256/],
    ['a non-base64 signature', withPackage({ signature: 'not base64!' }), /package.signature/],
    ['a keyId with a path', withPackage({ keyId: '../etc/passwd' }), /package.keyId/],
  ])('refuses %s', (_name, doc, message) => {
    expect(() => parseUpdateDocument(doc, 'delivered')).toThrow(message);
  });
});

describe('versionProblem', () => {
  it('allows an upgrade, refuses a downgrade unless allowed, and says when the version is running', () => {
    expect(versionProblem({ version: '1.4.0', allowDowngrade: false }, '1.3.9')).toBeUndefined();
    expect(versionProblem({ version: '1.2.0', allowDowngrade: false }, '1.3.0')).toMatch(/older than the running 1.3.0.*allowDowngrade/);
    expect(versionProblem({ version: '1.2.0', allowDowngrade: true }, '1.3.0')).toBeUndefined();
    expect(versionProblem({ version: '1.3.0', allowDowngrade: true }, '1.3.0')).toMatch(/already running/);
    // semver: a pre-release is older than its release
    expect(versionProblem({ version: '1.4.0-rc.1', allowDowngrade: false }, '1.4.0')).toMatch(/older/);
  });
});

describe('agentArchitecture', () => {
  it('maps Node architectures to package architectures', () => {
    expect(agentArchitecture('arm64')).toBe('aarch64');
    expect(agentArchitecture('arm')).toBe('armv7hf');
    expect(agentArchitecture('x64')).toBe('x86_64');
    expect(agentArchitecture('ppc64')).toBeUndefined();
  });
});
