import { describe, expect, it } from 'vitest';
import { decideReenrolment, decideSerial, parseAllowList, type EnrolledThing, type ThingRegistry } from './enrolment-rules.js';

describe('serial rule', () => {
  const allowed = parseAllowList(' accc8e100001, ACCC8E100002\nACCC8E100003 ');

  it('parses a comma/space/newline separated list, case-insensitively; no variable means no list', () => {
    expect([...allowed!]).toEqual(['ACCC8E100001', 'ACCC8E100002', 'ACCC8E100003']);
    expect(parseAllowList(undefined)).toBeUndefined();
    expect(parseAllowList('')).toEqual(new Set());
  });
  it('allows a listed serial in any case, and refuses an unlisted one', () => {
    expect(decideSerial({ SerialNumber: 'accc8e100001' }, allowed)).toMatchObject({ allow: true, serial: 'ACCC8E100001' });
    expect(decideSerial({ SerialNumber: 'ACCC8E100009' }, allowed)).toMatchObject({ allow: false, why: /not on the allow-list/ });
  });
  it('refuses a missing or malformed serial and says why', () => {
    expect(decideSerial({}, allowed).why).toMatch(/no SerialNumber/);
    expect(decideSerial({ SerialNumber: 42 }, allowed).allow).toBe(false);
    expect(decideSerial({ SerialNumber: 'ACCC8E10000*' }, undefined).why).toMatch(/not 12 hex digits/);
    expect(decideSerial('garbage', allowed).allow).toBe(false);
  });
  it('refuses everything when the list is empty, naming the setting to fix; without a list any serial passes', () => {
    expect(decideSerial({ SerialNumber: 'ACCC8E100001' }, new Set()).why).toMatch(/CLOUDCAM_ALLOWED_SERIALS/);
    expect(decideSerial({ SerialNumber: 'ACCC8E100001' }, undefined).allow).toBe(true);
  });
});

/** An in-memory registry: enough to pin the rule itself (the real ones are tested against AWS call shapes and devcloud). */
function memoryRegistry(thing: EnrolledThing | undefined) {
  const deactivated: string[] = [];
  let permits = thing?.reenrolAllowedUntil !== undefined ? 1 : 0;
  const registry: ThingRegistry = {
    lookup: () => Promise.resolve(thing),
    useReenrolPermission: () => Promise.resolve(permits-- > 0),
    deactivate: (c) => {
      deactivated.push(c);
      return Promise.resolve();
    },
  };
  return { registry, deactivated };
}

describe('re-enrolment rule', () => {
  const now = Date.parse('2026-12-01T05:00:00Z');

  it('a new thing, or one without an active certificate, enrols without an operator', async () => {
    expect(await decideReenrolment(memoryRegistry(undefined).registry, 'cloudcam-X', 'X', 'new', now)).toMatchObject({ allow: true, deactivated: [] });
    expect(await decideReenrolment(memoryRegistry({ activeCertificates: [] }).registry, 'cloudcam-X', 'X', 'new', now)).toMatchObject({ allow: true });
  });
  it('a thing with an active certificate is refused, naming the operator command', async () => {
    const { registry, deactivated } = memoryRegistry({ activeCertificates: ['old'] });
    const d = await decideReenrolment(registry, 'cloudcam-ACCC8E100001', 'ACCC8E100001', 'new', now);
    expect(d.allow).toBe(false);
    expect(d.why).toContain('already has an active certificate');
    expect(d.why).toContain('cloudcam fleet allow-reenrol --serial ACCC8E100001');
    expect(deactivated).toEqual([]);
  });
  it('an expired permission is refused and says when it expired', async () => {
    const d = await decideReenrolment(memoryRegistry({ activeCertificates: ['old'], reenrolAllowedUntil: now - 1 }).registry, 't', 'S', 'new', now);
    expect(d).toMatchObject({ allow: false, why: /expired at 2026-12-01T04:59:59.999Z/ });
  });
  it('a valid permission allows once and deactivates the old certificates; a second use is refused', async () => {
    const { registry, deactivated } = memoryRegistry({ activeCertificates: ['old-1', 'old-2'], reenrolAllowedUntil: now + 60_000 });
    expect(await decideReenrolment(registry, 't', 'S', 'new', now)).toMatchObject({ allow: true, deactivated: ['old-1', 'old-2'] });
    expect(deactivated).toEqual(['old-1', 'old-2']);
    expect(await decideReenrolment(registry, 't', 'S', 'newer', now)).toMatchObject({ allow: false, why: /used by another registration/ });
    expect(deactivated).toHaveLength(2);
  });
});
