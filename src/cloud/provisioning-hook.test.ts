/**
 * The hook against the AWS IoT control plane's call shapes (a recording fake: AWS itself cannot run
 * here). The rule is tested in enrolment-rules.test.ts and, for real, through devcloud in
 * test/integration/reenrolment.test.ts.
 */
import { ResourceNotFoundException, VersionConflictException } from '@aws-sdk/client-iot';
import { describe, expect, it, vi } from 'vitest';
import { awsThingRegistry, allowReenrolmentInAws, type IotSender } from './iot-registry.js';
import { decideProvisioning, hookSettings, provisioningHook } from './provisioning-hook.js';

const OLD = 'a'.repeat(64);
const NEW = 'b'.repeat(64);
const INACTIVE = 'c'.repeat(64);
const ARN = 'arn:aws:iot:eu-west-1:123456789012';
const now = Date.parse('2026-12-01T05:00:00Z');

const event = (SerialNumber: string) => ({
  claimCertificateId: 'f'.repeat(64),
  certificateId: NEW,
  certificatePem: 'not read',
  templateArn: `${ARN}:provisioningtemplate/T`,
  clientId: `cloudcam-claim-${SerialNumber}`,
  parameters: { SerialNumber, Model: 'M3086-V' },
});

type Call = { command: string; input: Record<string, unknown> };

/** Answers like AWS IoT for one thing `cloudcam-ACCC8E100001` (or none), recording every call. */
function fakeIot(thing: { attributes: Record<string, string>; version: number; principals: Record<string, string> } | undefined) {
  const calls: Call[] = [];
  const send = (cmd: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown> => {
    const command = cmd.constructor.name.replace(/Command$/, '');
    calls.push({ command, input: cmd.input });
    const notFound = () => Promise.reject(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
    switch (command) {
      case 'DescribeThing':
        return thing ? Promise.resolve({ thingName: cmd.input['thingName'], attributes: thing.attributes, version: thing.version }) : notFound();
      case 'ListThingPrincipals':
        return Promise.resolve({ principals: [...Object.keys(thing?.principals ?? {}), NEW].map((id) => `${ARN}:cert/${id}`) });
      case 'DescribeCertificate':
        return Promise.resolve({ certificateDescription: { certificateId: cmd.input['certificateId'], status: thing?.principals[cmd.input['certificateId'] as string] } });
      case 'UpdateThing':
        if (!thing) return notFound();
        if (cmd.input['expectedVersion'] !== undefined && cmd.input['expectedVersion'] !== thing.version) {
          return Promise.reject(new VersionConflictException({ message: 'version', $metadata: {} }));
        }
        thing.version++;
        return Promise.resolve({});
      default:
        return Promise.resolve({});
    }
  };
  return { iot: { send } as unknown as IotSender, calls };
}

const settings = hookSettings({});

describe('pre-provisioning hook (AWS call shapes)', () => {
  it('reads the env: no CLOUDCAM_ALLOWED_SERIALS is no list, the prefix defaults to cloudcam-', () => {
    expect(settings).toEqual({ allowedSerials: undefined, thingNamePrefix: 'cloudcam-' });
    expect(hookSettings({ CLOUDCAM_ALLOWED_SERIALS: 'accc8e100001', CLOUDCAM_THING_NAME_PREFIX: 'x-' }).allowedSerials).toEqual(new Set(['ACCC8E100001']));
  });

  it('a new serial: DescribeThing says not found, allowed, SerialNumber pinned upper-case, EnrolledAt today (UTC)', async () => {
    const { iot, calls } = fakeIot(undefined);
    const out = await decideProvisioning(event('accc8e100001'), settings, awsThingRegistry(iot), now);
    expect(out.decision).toEqual({ allowProvisioning: true, parameterOverrides: { SerialNumber: 'ACCC8E100001', EnrolledAt: '2026-12-01' } });
    expect(calls).toEqual([{ command: 'DescribeThing', input: { thingName: 'cloudcam-ACCC8E100001' } }]);
  });

  it('an enrolled serial (an ACTIVE certificate besides the new one) is refused, with only read calls', async () => {
    const { iot, calls } = fakeIot({ attributes: { serialNumber: 'ACCC8E100001' }, version: 3, principals: { [OLD]: 'ACTIVE', [INACTIVE]: 'INACTIVE' } });
    const out = await decideProvisioning(event('ACCC8E100001'), settings, awsThingRegistry(iot), now);
    expect(out.decision).toEqual({ allowProvisioning: false });
    expect(out.why).toContain('cloudcam fleet allow-reenrol --serial ACCC8E100001');
    expect(calls.map((c) => c.command)).toEqual(['DescribeThing', 'ListThingPrincipals', 'DescribeCertificate', 'DescribeCertificate']);
    expect(calls[1]!.input).toEqual({ thingName: 'cloudcam-ACCC8E100001' });
    expect(calls.slice(2).map((c) => c.input['certificateId'])).toEqual([OLD, INACTIVE]); // never the new one
  });

  it('with the permission: used up with expectedVersion, the old certificate set INACTIVE, allowed; a replay is refused', async () => {
    const thing = { attributes: { reenrolAllowedUntil: String(now / 1000 + 600) }, version: 7, principals: { [OLD]: 'ACTIVE' } };
    const { iot, calls } = fakeIot(thing);
    const out = await decideProvisioning(event('ACCC8E100001'), settings, awsThingRegistry(iot), now);
    expect(out).toMatchObject({ decision: { allowProvisioning: true }, deactivated: [OLD] });
    expect(calls.find((c) => c.command === 'UpdateThing')!.input).toEqual({
      thingName: 'cloudcam-ACCC8E100001',
      attributePayload: { attributes: { reenrolAllowedUntil: '' }, merge: true },
      expectedVersion: 7,
    });
    expect(calls.find((c) => c.command === 'UpdateCertificate')!.input).toEqual({ certificateId: OLD, newStatus: 'INACTIVE' });

    // Another registration that read the thing before the permission was used loses the race.
    const racer = await awsThingRegistry(iot).useReenrolPermission('cloudcam-ACCC8E100001', 7);
    expect(racer).toBe(false);
  });

  it("a device's own EnrolledAt parameter is overridden: a claim holder cannot date its enrolment back", async () => {
    const { iot } = fakeIot(undefined);
    const early = { ...event('ACCC8E100001'), parameters: { SerialNumber: 'ACCC8E100001', EnrolledAt: '2015-01-01' } };
    const out = await decideProvisioning(early, settings, awsThingRegistry(iot), now);
    expect(out.decision.parameterOverrides).toMatchObject({ EnrolledAt: '2026-12-01' });
  });

  it('re-enrolment keeps the recorded enrolment day; an invalid or future one is replaced by today', async () => {
    const permitted = (enrolledAt: string) => fakeIot({ attributes: { enrolledAt, reenrolAllowedUntil: String(now / 1000 + 600) }, version: 1, principals: { [OLD]: 'ACTIVE' } });
    const kept = await decideProvisioning(event('ACCC8E100001'), settings, awsThingRegistry(permitted('2025-03-04').iot), now);
    expect(kept.decision).toEqual({ allowProvisioning: true, parameterOverrides: { SerialNumber: 'ACCC8E100001', EnrolledAt: '2025-03-04' } });
    for (const bad of ['2027-01-01', '2025-02-30', 'yesterday']) {
      const out = await decideProvisioning(event('ACCC8E100001'), settings, awsThingRegistry(permitted(bad).iot), now);
      expect(out.decision.parameterOverrides).toMatchObject({ EnrolledAt: '2026-12-01' });
    }
  });

  it('an expired permission is refused without writing anything', async () => {
    const { iot, calls } = fakeIot({ attributes: { reenrolAllowedUntil: String(now / 1000 - 1) }, version: 1, principals: { [OLD]: 'ACTIVE' } });
    const out = await decideProvisioning(event('ACCC8E100001'), settings, awsThingRegistry(iot), now);
    expect(out).toMatchObject({ decision: { allowProvisioning: false }, why: /expired/ });
    expect(calls.some((c) => c.command.startsWith('Update'))).toBe(false);
  });

  it('the allow-list is checked before any registry call', async () => {
    const { iot, calls } = fakeIot(undefined);
    const out = await decideProvisioning(event('ACCC8E100009'), hookSettings({ CLOUDCAM_ALLOWED_SERIALS: 'ACCC8E100001' }), awsThingRegistry(iot), now);
    expect(out).toMatchObject({ decision: { allowProvisioning: false }, why: /not on the allow-list/ });
    expect(calls).toEqual([]);
  });

  it('allow-reenrol writes the deadline in epoch seconds with merge, and names the fix for an unknown thing', async () => {
    const { iot, calls } = fakeIot({ attributes: {}, version: 1, principals: {} });
    await allowReenrolmentInAws(iot, 'cloudcam-ACCC8E100001', now + 3_600_000);
    expect(calls).toEqual([
      { command: 'UpdateThing', input: { thingName: 'cloudcam-ACCC8E100001', attributePayload: { attributes: { reenrolAllowedUntil: String(now / 1000 + 3600) }, merge: true } } },
    ]);
    await expect(allowReenrolmentInAws(fakeIot(undefined).iot, 'cloudcam-ACCC8E100002', now)).rejects.toThrow(/no thing cloudcam-ACCC8E100002.*--serial/);
  });

  it('the handler refuses when a registry call fails (fails closed), and never logs the certificate', async () => {
    const failing = { send: () => Promise.reject(Object.assign(new Error('User is not authorized to perform: iot:DescribeThing'), { name: 'AccessDeniedException' })) } as unknown as IotSender;
    const logged: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((line: string) => void logged.push(line));
    try {
      const hook = provisioningHook(() => awsThingRegistry(failing), {});
      expect(await hook({ ...event('ACCC8E100001'), certificatePem: '-----BEGIN CERTIFICATE-----secret' })).toEqual({ allowProvisioning: false });
    } finally {
      spy.mockRestore();
    }
    expect(logged.join('\n')).toContain('iot:DescribeThing');
    expect(logged.join('\n')).not.toContain('BEGIN CERTIFICATE');
  });
});
