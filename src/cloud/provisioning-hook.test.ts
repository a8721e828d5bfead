import { describe, expect, it } from 'vitest';
import { decideProvisioning, parseAllowList } from './provisioning-hook.js';

const event = (SerialNumber?: unknown) => ({
  claimCertificateId: 'c1',
  certificateId: 'c2',
  certificatePem: 'not read',
  templateArn: 'arn:aws:iot:us-east-1:123456789012:provisioningtemplate/T',
  clientId: 'x',
  parameters: SerialNumber === undefined ? {} : { SerialNumber },
});

describe('pre-provisioning hook', () => {
  const allowed = parseAllowList(' accc8e100001, ACCC8E100002\nACCC8E100003 ');

  it('parses a comma/space/newline separated list, case-insensitively', () => {
    expect([...allowed]).toEqual(['ACCC8E100001', 'ACCC8E100002', 'ACCC8E100003']);
  });
  it('allows a listed serial in any case, and refuses an unlisted one', () => {
    expect(decideProvisioning(event('accc8e100001'), allowed).decision).toEqual({ allowProvisioning: true });
    expect(decideProvisioning(event('ACCC8E100009'), allowed)).toMatchObject({ decision: { allowProvisioning: false }, why: /not on the allow-list/ });
  });
  it('refuses a missing or malformed serial and says why', () => {
    expect(decideProvisioning(event(), allowed).why).toMatch(/no SerialNumber/);
    expect(decideProvisioning(event(42), allowed).decision.allowProvisioning).toBe(false);
    expect(decideProvisioning(event('ACCC8E10000*'), allowed).why).toMatch(/not 12 hex digits/);
    expect(decideProvisioning('garbage', allowed).decision.allowProvisioning).toBe(false);
  });
  it('refuses everything when the list is empty, naming the setting to fix', () => {
    expect(decideProvisioning(event('ACCC8E100001'), new Set()).why).toMatch(/CLOUDCAM_ALLOWED_SERIALS/);
  });
});
