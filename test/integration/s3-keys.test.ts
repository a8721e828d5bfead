/**
 * Every key S3 accepts is stored and read back by the S3 stand-in: keys that clash as paths (`a` and
 * `a/b`), dot segments, empty segments, long segments. S3 treats a key as an opaque string of up to
 * 1024 bytes of UTF-8 ("Naming Amazon S3 objects", S3 User Guide).
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { get } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3, type S3StandIn } from '../../src/devcloud/s3/server.js';

const BUCKET = 'cloudcam-keys';
const CREDS = { accessKeyId: 'AKIDTESTKEYS', secretAccessKey: 'keys-secret' };

let outer: string;
let root: string;
let s3: S3StandIn;
let client: S3Client;

beforeAll(async () => {
  outer = await mkdtemp(path.join(os.tmpdir(), 's3-keys-'));
  root = path.join(outer, 's3');
  s3 = await startS3({ rootDir: root, buckets: [BUCKET], credentials: [CREDS] });
  client = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials: CREDS });
});
afterAll(async () => {
  client.destroy();
  await s3.stop();
  await rm(outer, { recursive: true, force: true });
});

async function put(key: string, body: string): Promise<number> {
  const p = await createPresignedPost(client, { Bucket: BUCKET, Key: key, Expires: 60 });
  const form = new FormData();
  for (const [k, v] of Object.entries(p.fields)) form.append(k, v);
  form.append('file', new Blob([body]), 'f');
  const res = await fetch(p.url, { method: 'POST', body: form });
  return res.status;
}

/** A presigned GET sent with node:http, which (unlike fetch) sends `/..` and `//` as they are, as the SDK signs them. */
async function read(key: string): Promise<{ status: number; body: string }> {
  const signed = await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: 60 });
  // Not new URL(): it would resolve `..` and `.` away.
  const target = signed.slice(s3.url.length);
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: s3.port, path: target }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    }).on('error', reject);
  });
}

async function listed(): Promise<string[]> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  return (page.Contents ?? []).map((o) => o.Key ?? '');
}

const KEYS = [
  'a/b',
  'a', // a file where a folder is
  'c',
  'c/d', // a folder where a file is
  '..',
  '.',
  'things/../../escape.jpg',
  'x//y',
  'trailing/',
  '/leading',
  's'.repeat(300), // a segment longer than a file name may be
  'é'.repeat(512), // 1024 bytes of UTF-8
];

describe('S3 stand-in: keys that are not file paths', () => {
  it('stores and reads back every key S3 accepts, including ones that clash as paths', async () => {
    for (const key of KEYS) expect({ key, status: await put(key, `body of ${key}`) }).toEqual({ key, status: 204 });
    for (const key of KEYS) expect({ key, ...(await read(key)) }).toEqual({ key, status: 200, body: `body of ${key}` });
    const sorted = [...KEYS].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(await listed()).toEqual(sorted);
  });

  it('overwrites a stored key in its place', async () => {
    expect(await put('a', 'second body')).toBe(204);
    expect(await read('a')).toEqual({ status: 200, body: 'second body' });
    expect((await listed()).filter((k) => k === 'a')).toHaveLength(1);
  });

  it('keeps a plain key at a readable path under the bucket folder and writes nothing outside the root', async () => {
    expect(await put('camera-1/2026/12/01/snap.jpg', 'jpeg')).toBe(204);
    expect((await stat(path.join(root, BUCKET, 'camera-1', '2026', '12', '01', 'snap.jpg'))).isFile()).toBe(true);
    expect((await readdir(outer)).sort()).toEqual(['s3']);
  });

  it('refuses a key over 1024 bytes as S3 does', async () => {
    expect(await put('k'.repeat(1025), 'x')).toBe(400);
  });
});
