import { describe, expect, it } from 'vitest';
import { decodeMetaValue } from './s3-metadata.js';
import { EVENT_META_FIELDS, eventKey, grantNeedsRenewal, parseEventKey, grantUploadFields, parseUploadGrant, type UploadGrant } from './upload-grant.js';

const GRANT: UploadGrant = {
  url: 'https://bucket.s3.amazonaws.com/',
  fields: { key: 'cam-1/events/${filename}', policy: 'cG9saWN5', 'x-amz-signature': 'sig', 'Content-Type': 'image/jpeg' },
  keyPrefix: 'cam-1/events/',
  expiresAt: '2026-12-01T06:00:00.000Z',
  maxBytes: 1000,
};
const errorOf = (r: ReturnType<typeof parseUploadGrant>): string => (r.ok ? 'accepted' : r.error);
const META = { trigger: 'motion', topic: 'tns1:VideoSource/MotionAlarm', time: '2026-12-01T05:00:00.000Z', frameTime: '2026-12-01T05:00:00.100Z' };

describe('event keys', () => {
  it('have the documented shape, in UTC', () => {
    expect(eventKey('cam-1', 'motion', new Date('2026-12-01T23:59:59.123Z'))).toBe('cam-1/events/2026/12/01/20261201T235959123Z-motion.jpg');
    expect(eventKey('cam-1', 'motion', new Date('2026-12-01T23:59:59.123Z'), 'pre')).toBe('cam-1/events/2026/12/01/20261201T235959123Z-motion.pre.jpg');
  });
  it('read back: thing, trigger and frame; no other key passes', () => {
    const at = new Date('2026-12-01T05:00:00.000Z');
    expect(parseEventKey(eventKey('cam-1', 'door-1', at))).toEqual({ thing: 'cam-1', trigger: 'door-1', frame: 'event' });
    expect(parseEventKey(eventKey('cam-1', 'motion', at, 'pre'))).toEqual({ thing: 'cam-1', trigger: 'motion', frame: 'pre' });
    for (const key of ['cam-1/2026/12/01/20261201T050000000Z-3f9a01c2.jpg', 'cam-1/events/x.jpg', '/events/2026/12/01/20261201T050000000Z-m.jpg', 'cam-1/events/2026/12/01/20261201T050000000Z-m.png']) {
      expect(parseEventKey(key)).toBeUndefined();
    }
  });
  it('refuse a trigger name that would change the key', () => {
    expect(() => eventKey('cam-1', '../x', new Date())).toThrow(/invalid trigger name/);
    expect(() => eventKey('cam/2', 'motion', new Date())).toThrow(/invalid thing name/);
  });
});

describe('parseUploadGrant', () => {
  it('accepts a grant for this thing', () => {
    expect(parseUploadGrant(GRANT, 'cam-1')).toEqual({ ok: true, value: GRANT });
  });
  it('refuses another thing\'s grant, a key outside the prefix and wrong types, without quoting the fields', () => {
    expect(errorOf(parseUploadGrant(GRANT, 'cam-2'))).toMatch(/keyPrefix must be "cam-2\/events\/"/);
    const outside = parseUploadGrant({ ...GRANT, fields: { ...GRANT.fields, key: 'cam-1/${filename}' } }, 'cam-1');
    expect(errorOf(outside)).toMatch(/fields.key must start with "cam-1\/events\/"/);
    expect(parseUploadGrant({ ...GRANT, maxBytes: '5' }, 'cam-1')).toMatchObject({ ok: false });
    expect(errorOf(parseUploadGrant({ ...GRANT, extra: 1 }, 'cam-1'))).toMatch(/unknown keys: "extra"/);
    expect(parseUploadGrant([], 'cam-1')).toMatchObject({ ok: false });
    const noPolicy = parseUploadGrant({ ...GRANT, fields: { key: 'cam-1/events/x' } }, 'cam-1');
    expect(errorOf(noPolicy)).toMatch(/policy is missing/);
    expect(JSON.stringify(parseUploadGrant({ ...GRANT, fields: { ...GRANT.fields, x: 5 } }, 'cam-1'))).not.toContain('sig');
  });
});

describe('grantNeedsRenewal', () => {
  const now = Date.parse('2026-12-01T05:00:00.000Z');
  it('renews a missing grant, one with less than 10 minutes left, and an expired one', () => {
    expect(grantNeedsRenewal(undefined, now)).toBe(true);
    expect(grantNeedsRenewal(GRANT, now)).toBe(false);
    expect(grantNeedsRenewal(GRANT, Date.parse('2026-12-01T05:50:01.000Z'))).toBe(true);
    expect(grantNeedsRenewal(GRANT, Date.parse('2026-12-01T07:00:00.000Z'))).toBe(true);
  });
});

describe('grantUploadFields', () => {
  it('sets the key and the metadata fields', () => {
    const fields = grantUploadFields(GRANT, 'cam-1/events/2026/12/01/x-motion.jpg', META);
    expect(fields).toMatchObject({
      key: 'cam-1/events/2026/12/01/x-motion.jpg',
      'x-amz-meta-trigger': 'motion',
      'x-amz-meta-event-topic': 'tns1:VideoSource/MotionAlarm',
      'x-amz-meta-event-time': META.time,
      'x-amz-meta-frame-time': META.frameTime,
      policy: 'cG9saWN5',
    });
  });
  it('refuses, before any upload, a key outside the grant\'s prefix', () => {
    expect(() => grantUploadFields(GRANT, 'cam-2/events/x.jpg', META)).toThrow(/outside the grant's prefix "cam-1\/events\/"/);
    expect(() => grantUploadFields(GRANT, 'cam-1/x.jpg', META)).toThrow(/outside/);
    expect(() => grantUploadFields(GRANT, 'cam-1/events/${filename}', META)).toThrow(/outside/);
  });
  it('adds the time source and the event items, free text RFC 2047-encoded, when the policy covers them (S3: metadata is US-ASCII, UsingMetadata.html)', () => {
    const policy = (fields: string[]) => Buffer.from(JSON.stringify({ conditions: fields.map((f) => ['starts-with', `$${f}`, '']) })).toString('base64');
    const meta = { ...META, timeSource: 'agent' as const, source: { port: '1' }, data: { RuleName: '玄関の動き', Profil: 'Rörelse' } };
    const all = grantUploadFields({ ...GRANT, fields: { ...GRANT.fields, policy: policy(Object.values(EVENT_META_FIELDS)) } }, 'cam-1/events/x.jpg', meta);
    expect(all).toMatchObject({ 'x-amz-meta-event-time-source': 'agent', 'x-amz-meta-event-source': '{"port":"1"}' });
    expect(all['x-amz-meta-event-data']).toMatch(/^[\x20-\x7e]+$/);
    expect(JSON.parse(decodeMetaValue(all['x-amz-meta-event-data'] ?? ''))).toEqual(meta.data);
    // A grant from a cloud handler older than these fields: sending them would make S3 refuse the upload.
    const old = grantUploadFields({ ...GRANT, fields: { ...GRANT.fields, policy: policy(['x-amz-meta-trigger', 'x-amz-meta-event-topic', 'x-amz-meta-event-time', 'x-amz-meta-frame-time']) } }, 'cam-1/events/x.jpg', meta);
    expect(Object.keys(old).filter((k) => k.startsWith('x-amz-meta-')).sort()).toEqual(['x-amz-meta-event-time', 'x-amz-meta-event-topic', 'x-amz-meta-frame-time', 'x-amz-meta-trigger']);
  });
  it('refuses metadata S3 could not carry', () => {
    expect(() => grantUploadFields(GRANT, 'cam-1/events/x.jpg', { ...META, topic: 'a\r\nb' })).toThrow(/event topic is not a printable ASCII/);
    expect(() => grantUploadFields(GRANT, 'cam-1/events/x.jpg', { ...META, topic: 'x'.repeat(300) })).toThrow(/at most 256/);
  });
});
