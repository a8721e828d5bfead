import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, S3Client, S3ServiceException, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startS3, type S3StandIn } from '../../src/devcloud/s3/server.js';

const BUCKET = 'cloudcam-list';
const CREDS = { accessKeyId: 'AKIDTESTLIST', secretAccessKey: 'list-secret' };
const TEMP = { accessKeyId: 'ASIATESTLIST', secretAccessKey: 'temp-list-secret', sessionToken: 'list-session-token' };
// Uploaded out of order on purpose; "é" sorts after ASCII in UTF-8 binary order, as S3 lists it.
const KEYS = ['cam-1/2026/11/27/b.jpg', 'cam-1/2026/11/26/a.jpg', 'cam-1/é.jpg', 'cam-10/x.jpg', 'cam-1/2026/11/27/c.jpg', 'cam-2/y.jpg'];

let root: string;
let s3: S3StandIn;
let clockOffset = 0;

function client(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = CREDS): S3Client {
  return new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof S3ServiceException) return `${err.$metadata.httpStatusCode} ${err.name}`;
    throw err;
  }
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 's3-list-'));
  s3 = await startS3({ rootDir: root, buckets: [BUCKET], credentials: [CREDS, TEMP], now: () => Date.now() + clockOffset });
  for (const key of KEYS) {
    const p = await createPresignedPost(client(), { Bucket: BUCKET, Key: key, Fields: { 'Content-Type': 'image/jpeg' }, Expires: 60 });
    const form = new FormData();
    for (const [k, v] of Object.entries(p.fields)) form.append(k, v);
    form.append('file', new Blob([Buffer.from(`bytes of ${key}`)]), 'snap.jpg');
    expect((await fetch(p.url, { method: 'POST', body: form })).status).toBe(204);
  }
});
afterAll(async () => {
  await s3.stop();
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  clockOffset = 0;
});

describe('S3 stand-in: ListObjectsV2 (header-signed SigV4, real @aws-sdk/client-s3)', () => {
  it('lists the keys under a prefix in UTF-8 binary order, with sizes and ETags', async () => {
    const out = await client().send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'cam-1/' }));
    expect(out.Contents?.map((o) => o.Key)).toEqual(['cam-1/2026/11/26/a.jpg', 'cam-1/2026/11/27/b.jpg', 'cam-1/2026/11/27/c.jpg', 'cam-1/é.jpg']);
    expect(out.KeyCount).toBe(4);
    expect(out.IsTruncated).toBe(false);
    expect(out.Contents?.[0]?.Size).toBe(Buffer.byteLength('bytes of cam-1/2026/11/26/a.jpg'));
    expect(out.Contents?.[0]?.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(out.Contents?.[0]?.LastModified).toBeInstanceOf(Date);
  });

  it('pages with max-keys and continuation tokens until every key was seen once', async () => {
    const seen: string[] = [];
    let pages = 0;
    for await (const page of paginateListObjectsV2({ client: client(), pageSize: 2 }, { Bucket: BUCKET })) {
      pages += 1;
      seen.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...KEYS].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  });

  it('starts after a given key', async () => {
    const out = await client().send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'cam-1/', StartAfter: 'cam-1/2026/11/27/' }));
    expect(out.Contents?.map((o) => o.Key)).toEqual(['cam-1/2026/11/27/b.jpg', 'cam-1/2026/11/27/c.jpg', 'cam-1/é.jpg']);
  });

  it('accepts temporary credentials (the session token is a signed header)', async () => {
    const out = await client(TEMP).send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'cam-2/' }));
    expect(out.Contents?.map((o) => o.Key)).toEqual(['cam-2/y.jpg']);
  });

  it('refuses a wrong secret, an unknown key, a missing token, a skewed clock, a bad continuation token', async () => {
    const list = (c: S3Client, extra: Partial<{ ContinuationToken: string }> = {}) => c.send(new ListObjectsV2Command({ Bucket: BUCKET, ...extra }));
    expect(await codeOf(list(client({ ...CREDS, secretAccessKey: 'wrong' })))).toBe('403 SignatureDoesNotMatch');
    expect(await codeOf(list(client({ accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' })))).toBe('403 InvalidAccessKeyId');
    expect(await codeOf(list(client({ accessKeyId: TEMP.accessKeyId, secretAccessKey: TEMP.secretAccessKey })))).toBe('400 InvalidToken');
    expect(await codeOf(list(client(), { ContinuationToken: 'not-a-token' }))).toBe('400 InvalidArgument');
    clockOffset = 16 * 60 * 1000;
    // The SDK corrects its clock from the answer's Date header and retries once, as it does against S3.
    const skewed = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
    expect(await codeOf(list(skewed))).toBe('403 RequestTimeTooSkewed');
  });

  it('refuses an unsigned listing and a missing bucket', async () => {
    const res = await fetch(`${s3.url}/${BUCKET}?list-type=2`);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>AccessDenied</Code>');
    expect(await codeOf(client().send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' })))).toBe('404 NoSuchBucket');
  });

  it('says plainly that delimiter listings are not implemented', async () => {
    expect(await codeOf(client().send(new ListObjectsV2Command({ Bucket: BUCKET, Delimiter: '/' })))).toBe('501 NotImplemented');
  });
});
