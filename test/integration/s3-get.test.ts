import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startS3, type S3StandIn } from '../../src/devcloud/s3/server.js';

const BUCKET = 'cloudcam-get';
const CREDS = { accessKeyId: 'AKIDTESTGET', secretAccessKey: 'get-secret' };
const TEMP = { accessKeyId: 'ASIATESTGET', secretAccessKey: 'temp-get-secret', sessionToken: 'get-session-token' };
const KEY = 'things/cam 1/snap+1~é.jpg';
const BODY = Buffer.from('jpeg bytes for a presigned GET');

let root: string;
let s3: S3StandIn;
let clockOffset = 0;

function client(credentials: typeof CREDS | typeof TEMP = CREDS): S3Client {
  return new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials });
}

async function errorOf(res: Response): Promise<{ status: number; code: string | undefined }> {
  const text = await res.text();
  return { status: res.status, code: /<Code>(.*?)<\/Code>/.exec(text)?.[1] };
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 's3-get-'));
  s3 = await startS3({ rootDir: root, buckets: [BUCKET], credentials: [CREDS, TEMP], now: () => Date.now() + clockOffset });
  const p = await createPresignedPost(client(), { Bucket: BUCKET, Key: KEY, Fields: { 'Content-Type': 'image/jpeg' }, Expires: 60 });
  const form = new FormData();
  for (const [k, v] of Object.entries(p.fields)) form.append(k, v);
  form.append('file', new Blob([BODY]), 'snap.jpg');
  const res = await fetch(p.url, { method: 'POST', body: form });
  expect(res.status).toBe(204);
});
afterAll(async () => {
  await s3.stop();
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  clockOffset = 0;
});

describe('S3 stand-in: presigned GET (query-string SigV4)', () => {
  it('serves the object for a valid presigned URL, with its content type and ETag', async () => {
    const url = await getSignedUrl(client(), new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), { expiresIn: 60 });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(BODY);
  });

  it('serves with temporary credentials (the token is part of the signed query)', async () => {
    const url = await getSignedUrl(client(TEMP), new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), { expiresIn: 60 });
    expect(url).toContain('X-Amz-Security-Token=');
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(BODY);
  });

  it('refuses an expired URL with 403 AccessDenied "Request has expired"', async () => {
    const url = await getSignedUrl(client(), new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), { expiresIn: 1 });
    clockOffset = 2000;
    const res = await fetch(url);
    const text = await res.text();
    expect(res.status).toBe(403);
    expect(text).toContain('<Code>AccessDenied</Code><Message>Request has expired</Message>');
  });

  it('refuses a tampered signature with 403 SignatureDoesNotMatch', async () => {
    const url = new URL(await getSignedUrl(client(), new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), { expiresIn: 60 }));
    const sig = url.searchParams.get('X-Amz-Signature') ?? '';
    url.searchParams.set('X-Amz-Signature', (sig[0] === '0' ? '1' : '0') + sig.slice(1));
    expect(await errorOf(await fetch(url))).toEqual({ status: 403, code: 'SignatureDoesNotMatch' });
  });

  it('refuses a URL whose signed parts were changed (expiry stretched)', async () => {
    const url = new URL(await getSignedUrl(client(), new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), { expiresIn: 60 }));
    url.searchParams.set('X-Amz-Expires', '600');
    expect(await errorOf(await fetch(url))).toEqual({ status: 403, code: 'SignatureDoesNotMatch' });
  });

  it('refuses an unsigned GET with 403 AccessDenied', async () => {
    const res = await fetch(`${s3.url}/${BUCKET}/${encodeURIComponent('a.jpg')}`);
    expect(await errorOf(res)).toEqual({ status: 403, code: 'AccessDenied' });
  });

  it('answers 404 NoSuchKey for a missing object and 404 NoSuchBucket for a missing bucket', async () => {
    const missing = await getSignedUrl(client(), new GetObjectCommand({ Bucket: BUCKET, Key: 'nope.jpg' }), { expiresIn: 60 });
    expect(await errorOf(await fetch(missing))).toEqual({ status: 404, code: 'NoSuchKey' });
    const noBucket = await getSignedUrl(client(), new GetObjectCommand({ Bucket: 'other-bucket', Key: KEY }), { expiresIn: 60 });
    expect(await errorOf(await fetch(noBucket))).toEqual({ status: 404, code: 'NoSuchBucket' });
  });

  it('never reports the query string (it carries the signature) in request events', async () => {
    const paths: string[] = [];
    const onRequest = (ev: { path: string }) => paths.push(ev.path);
    s3.events.on('request', onRequest);
    const url = await getSignedUrl(client(), new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), { expiresIn: 60 });
    await (await fetch(url)).arrayBuffer();
    s3.events.off('request', onRequest);
    expect(paths).toHaveLength(1);
    expect(paths[0]).not.toContain('X-Amz-Signature');
    expect(paths[0]).toBe(new URL(url).pathname);
  });
});
