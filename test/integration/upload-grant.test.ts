/**
 * The upload grant end to end against devcloud's stand-ins: the real cloud handler presigns it with
 * @aws-sdk/s3-presigned-post and writes it into the named shadow; an upload under the thing's events
 * prefix with the event metadata is stored, and S3 (the stand-in) refuses what the policy does not
 * allow: a key outside the prefix, a metadata field no condition covers.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { uploadPresignedPost, S3UploadError } from '../../src/protocol/s3-post.js';
import { EVENT_KEY_FUTURE_MS, EVENT_KEY_PAST_DAYS, eventKey, eventKeyDatePrefix, grantUploadFields, parseUploadGrant, type UploadGrant } from '../../src/protocol/upload-grant.js';
import type { S3StoredObject } from '../../src/devcloud/s3/server.js';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
const META = { trigger: 'motion', topic: 'tns1:VideoSource/MotionAlarm', time: '2026-12-01T05:00:00.000Z', frameTime: '2026-12-01T05:00:00.000Z' };

let t: TestDevcloud;
let thing: string;

beforeAll(async () => {
  t = await startTestDevcloud({ broker: 'aedes' });
  thing = Object.keys(t.dc.info.devices)[0] ?? '';
});
afterAll(async () => {
  await t.cleanup();
});

async function issue(): Promise<UploadGrant> {
  const r = await t.dc.handler.handle({ kind: 'snapshot', thing, reason: 'grant' });
  if (r.action !== 'granted') throw new Error(`expected a grant, got ${r.action}`);
  return r.grant;
}

async function post(fields: Record<string, string>, url: string): Promise<number | string> {
  try {
    return (await uploadPresignedPost({ url, fields }, JPEG, { contentType: 'image/jpeg', timeoutMs: 5000 })).status;
  } catch (err) {
    if (err instanceof S3UploadError) return `${err.status ?? 0} ${err.code}: ${err.message}`;
    throw err;
  }
}

describe('upload grant', () => {
  it('is written into desired.uploadGrant, valid at most an hour, for this thing only', async () => {
    const before = Date.now();
    const grant = await issue();
    const doc = t.dc.store.get({ thing, shadow: t.dc.info.shadowName }) as { state: { desired?: { uploadGrant?: unknown; snapshot?: unknown } } };
    const parsed = parseUploadGrant(doc.state.desired?.uploadGrant, thing);
    expect(parsed).toEqual({ ok: true, value: grant });
    expect(Date.parse(grant.expiresAt) - before).toBeLessThanOrEqual(3600_000 + 1000);
    const policy = JSON.parse(Buffer.from(grant.fields['Policy'] ?? '', 'base64').toString()) as { conditions: unknown[] };
    // Dated keys only, as far as S3's one starts-with prefix can say it: a year back to a day ahead.
    expect(policy.conditions).toContainEqual(['starts-with', '$key', eventKeyDatePrefix(thing, new Date(before - EVENT_KEY_PAST_DAYS * 86400_000), new Date(Date.parse(grant.expiresAt) + EVENT_KEY_FUTURE_MS))]);
    expect(policy.conditions).toContainEqual(['starts-with', '$x-amz-meta-trigger', '']);
    expect(policy.conditions).toContainEqual(['eq', '$Content-Type', 'image/jpeg']);
  });

  it('uploads an event under {thing}/events/ with its metadata, and no snapshot request is involved', async () => {
    const grant = await issue();
    const key = eventKey(thing, 'motion', new Date('2026-12-01T05:00:00.000Z'));
    const stored = new Promise<S3StoredObject>((resolve) => t.dc.s3.events.once('object', resolve));
    expect(await post(grantUploadFields(grant, key, META), grant.url)).toBe(204);
    expect(await stored).toMatchObject({
      key,
      contentType: 'image/jpeg',
      metadata: { trigger: 'motion', 'event-topic': 'tns1:VideoSource/MotionAlarm', 'event-time': META.time, 'frame-time': META.frameTime },
    });
    const { url, bucket, region, accessKeyId, secretAccessKey } = t.dc.info.s3;
    const client = new S3Client({ endpoint: url, forcePathStyle: true, region, credentials: { accessKeyId, secretAccessKey } });
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(got.Metadata).toEqual({ trigger: 'motion', 'event-topic': 'tns1:VideoSource/MotionAlarm', 'event-time': META.time, 'frame-time': META.frameTime });
    await got.Body?.transformToByteArray();
    client.destroy();
  });

  it('is refused by S3 for a key outside the prefix (another thing, the thing\'s snapshot folder)', async () => {
    const grant = await issue();
    for (const key of [`other-thing/events/x.jpg`, `${thing}/2026/12/01/x.jpg`, `${thing}/event/x.jpg`]) {
      const fields = { ...grantUploadFields(grant, eventKey(thing, 'motion', new Date()), META), key };
      expect(await post(fields, grant.url)).toMatch(/^403 AccessDenied: .*Policy Condition failed: \["starts-with", "\$key", ".*\/events\/\d*"\]/);
    }
  });

  it('is refused by S3 for a metadata field the policy does not cover', async () => {
    const grant = await issue();
    const fields = { ...grantUploadFields(grant, eventKey(thing, 'motion', new Date()), META), 'x-amz-meta-owner': 'me' };
    expect(await post(fields, grant.url)).toMatch(/^403 AccessDenied: .*Extra input fields: x-amz-meta-owner/);
  });

  it('is refused by S3 for an event key dated 2015 or 9999, and the agent refuses to send one (issue 20, item 2)', async () => {
    const grant = await issue();
    for (const at of ['2015-01-01T00:00:00.000Z', '9999-06-01T00:00:00.000Z']) {
      const key = eventKey(thing, 'motion', new Date(at));
      expect(() => grantUploadFields(grant, key, META)).toThrow(/dated outside what the grant allows/);
      const fields = { ...grantUploadFields(grant, eventKey(thing, 'motion', new Date()), META), key };
      expect(await post(fields, grant.url)).toMatch(/^403 AccessDenied: .*Policy Condition failed: \["starts-with", "\$key", ".*\/events\/2\d*"\]/);
    }
    // Today's and yesterday's keys (a queue held through midnight) still go.
    for (const at of [new Date(), new Date(Date.now() - 86400_000)]) expect(await post(grantUploadFields(grant, eventKey(thing, 'motion', at), META), grant.url)).toBe(204);
  });
});
