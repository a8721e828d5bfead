import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost, type PresignedPost, type PresignedPostOptions } from '@aws-sdk/s3-presigned-post';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startS3, type S3StandIn, type S3StoredObject } from '../../src/devcloud/s3/server.js';

const BUCKET = 'cloudcam-test';
const CREDS = { accessKeyId: 'AKIDTESTPOST', secretAccessKey: 'post-secret-key/abc+def' };
const TEMP_CREDS = { accessKeyId: 'ASIATEMPPOST', secretAccessKey: 'temp-secret', sessionToken: 'session-token-value-1234' };

let root: string;
let s3: S3StandIn;
let clockOffset = 0;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 's3-post-'));
  s3 = await startS3({ rootDir: root, buckets: [BUCKET], credentials: [CREDS, TEMP_CREDS], now: () => Date.now() + clockOffset });
});
afterAll(async () => {
  await s3.stop();
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  clockOffset = 0;
  s3.setFaults({});
});

function client(credentials: typeof CREDS | typeof TEMP_CREDS = CREDS): S3Client {
  return new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials });
}

async function presign(opts: {
  key?: string;
  max?: number;
  min?: number;
  expires?: number;
  fields?: Record<string, string>;
  credentials?: typeof CREDS | typeof TEMP_CREDS;
  conditions?: PresignedPostOptions['Conditions'];
}): Promise<PresignedPost> {
  return createPresignedPost(client(opts.credentials), {
    Bucket: BUCKET,
    Key: opts.key ?? 'things/cam-1/snap.jpg',
    Conditions: opts.conditions ?? [
      ['content-length-range', opts.min ?? 1, opts.max ?? 1024],
      ['eq', '$Content-Type', 'image/jpeg'],
    ],
    Fields: { 'Content-Type': 'image/jpeg', ...(opts.fields ?? {}) },
    Expires: opts.expires ?? 60,
  });
}

interface Answer {
  status: number;
  code?: string;
  message?: string;
  body: string;
  headers: Headers;
}

/** Posts with undici's own FormData (fetch): an independent client from the agent's uploader. */
async function post(url: string, entries: Array<[string, string] | ['file', Buffer, string?]>): Promise<Answer> {
  const form = new FormData();
  for (const entry of entries) {
    if (entry[0] === 'file' && Buffer.isBuffer(entry[1])) {
      form.append('file', new Blob([entry[1]], { type: 'image/jpeg' }), entry[2] ?? 'snap.jpg');
    } else {
      form.append(entry[0], entry[1]);
    }
  }
  const res = await fetch(url, { method: 'POST', body: form });
  const body = await res.text();
  const code = /<Code>(.*?)<\/Code>/.exec(body)?.[1];
  const message = /<Message>(.*?)<\/Message>/.exec(body)?.[1];
  return { status: res.status, body, headers: res.headers, ...(code ? { code } : {}), ...(message ? { message } : {}) };
}

function formOf(p: PresignedPost, file: Buffer, overrides: Record<string, string | undefined> = {}): Array<[string, string] | ['file', Buffer]> {
  const fields = { ...p.fields, ...overrides };
  const entries: Array<[string, string] | ['file', Buffer]> = [];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) entries.push([k, v]);
  entries.push(['file', file]);
  return entries;
}

const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from('cloudcam test image '.repeat(10)), Buffer.from([0xff, 0xd9])]);

describe('S3 stand-in: POST Object with a presigned policy', () => {
  it('stores a valid upload atomically, answers 204 with ETag/Location, and emits the object', async () => {
    const p = await presign({});
    const stored = new Promise<S3StoredObject>((resolve) => s3.events.once('object', resolve));
    const before = s3.stats.stored;
    const res = await post(p.url, formOf(p, JPEG));
    expect(res.status).toBe(204);
    const md5 = createHash('md5').update(JPEG).digest('hex');
    expect(res.headers.get('etag')).toBe(`"${md5}"`);
    expect(res.headers.get('location')).toBe(`${s3.url}/${BUCKET}/things/cam-1/snap.jpg`);
    const obj = await stored;
    expect(obj).toEqual({
      bucket: BUCKET,
      key: 'things/cam-1/snap.jpg',
      size: JPEG.length,
      path: path.join(root, BUCKET, 'things/cam-1/snap.jpg'),
      contentType: 'image/jpeg',
      metadata: {},
    });
    expect(await readFile(obj.path)).toEqual(JPEG);
    expect(s3.stats.stored).toBe(before + 1);
    // No temp file is left behind.
    expect(await readdir(path.join(root, '.tmp-uploads'))).toEqual([]);
  });

  it('answers 201 with the PostResponse XML when success_action_status is 201', async () => {
    const p = await presign({ key: 'things/cam-1/201.jpg', fields: { success_action_status: '201' } });
    const res = await post(p.url, formOf(p, JPEG));
    expect(res.status).toBe(201);
    expect(res.body).toContain(`<Bucket>${BUCKET}</Bucket>`);
    expect(res.body).toContain('<Key>things/cam-1/201.jpg</Key>');
    expect(res.body).toContain(`<ETag>"${createHash('md5').update(JPEG).digest('hex')}"</ETag>`);
    expect(res.body).toMatch(/<Location>http:\/\/127\.0\.0\.1:\d+\/cloudcam-test\/things\/cam-1\/201\.jpg<\/Location>/);
  });

  it('substitutes ${filename} in the key', async () => {
    const p = await presign({ key: 'things/cam-1/${filename}' });
    const entries = formOf(p, JPEG).slice(0, -1) as Array<[string, string] | ['file', Buffer, string]>;
    entries.push(['file', JPEG, 'from-camera.jpg']);
    const res = await post(p.url, entries);
    expect(res.status).toBe(204);
    expect(await readFile(path.join(root, BUCKET, 'things/cam-1/from-camera.jpg'))).toEqual(JPEG);
  });

  it('accepts temporary credentials only with their session token', async () => {
    const p = await presign({ key: 'things/cam-1/temp.jpg', credentials: TEMP_CREDS });
    expect((await post(p.url, formOf(p, JPEG))).status).toBe(204);
    // The token is covered by the policy, so changing it breaks the policy condition...
    const changed = await post(p.url, formOf(p, JPEG, { 'X-Amz-Security-Token': 'another-token-value' }));
    expect(changed.status).toBe(400);
    expect(changed.code).toBe('InvalidToken');
    // ...and leaving it out is refused too.
    const missing = await post(p.url, formOf(p, JPEG, { 'X-Amz-Security-Token': undefined }));
    expect(missing.code).toBe('InvalidToken');
  });

  const cases: Array<{
    name: string;
    status: number;
    code: string;
    message?: string | RegExp;
    run: () => Promise<Answer>;
  }> = [
    {
      name: 'expired policy',
      status: 403,
      code: 'AccessDenied',
      message: 'Invalid according to Policy: Policy expired.',
      run: async () => {
        const p = await presign({ expires: 1 });
        clockOffset = 2000;
        return post(p.url, formOf(p, JPEG));
      },
    },
    {
      name: 'tampered signature',
      status: 403,
      code: 'SignatureDoesNotMatch',
      run: async () => {
        const p = await presign({});
        const sig = p.fields['X-Amz-Signature'] ?? '';
        const flipped = (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1);
        return post(p.url, formOf(p, JPEG, { 'X-Amz-Signature': flipped }));
      },
    },
    {
      name: 'edited policy, same signature',
      status: 403,
      code: 'SignatureDoesNotMatch',
      run: async () => {
        const p = await presign({});
        const doc = JSON.parse(Buffer.from(p.fields.Policy ?? '', 'base64').toString('utf8')) as { conditions: unknown[] };
        doc.conditions = doc.conditions.map((c) => (JSON.stringify(c) === '{"key":"things/cam-1/snap.jpg"}' ? { key: 'things/other/evil.jpg' } : c));
        const edited = Buffer.from(JSON.stringify(doc)).toString('base64');
        return post(p.url, formOf(p, JPEG, { Policy: edited, key: 'things/other/evil.jpg' }));
      },
    },
    {
      name: 'file larger than content-length-range',
      status: 400,
      code: 'EntityTooLarge',
      run: async () => {
        const p = await presign({ max: 100 });
        return post(p.url, formOf(p, Buffer.alloc(101, 1)));
      },
    },
    {
      name: 'file smaller than content-length-range',
      status: 400,
      code: 'EntityTooSmall',
      run: async () => {
        const p = await presign({ min: 50 });
        return post(p.url, formOf(p, Buffer.alloc(49, 1)));
      },
    },
    {
      name: 'wrong key',
      status: 403,
      code: 'AccessDenied',
      message: 'Invalid according to Policy: Policy Condition failed: ["eq", "$key", "things/cam-1/snap.jpg"]',
      run: async () => {
        const p = await presign({});
        return post(p.url, formOf(p, JPEG, { key: 'things/cam-2/snap.jpg' }));
      },
    },
    {
      name: 'wrong content type',
      status: 403,
      code: 'AccessDenied',
      message: 'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "image/jpeg"]',
      run: async () => {
        const p = await presign({});
        return post(p.url, formOf(p, JPEG, { 'Content-Type': 'text/html' }));
      },
    },
    {
      name: 'extra field not in the policy',
      status: 403,
      code: 'AccessDenied',
      message: 'Invalid according to Policy: Extra input fields: x-amz-meta-owner',
      run: async () => {
        const p = await presign({});
        return post(p.url, formOf(p, JPEG, { 'x-amz-meta-owner': 'mallory' }));
      },
    },
    {
      name: 'signature field after the file (ignored like S3 does)',
      status: 400,
      code: 'InvalidArgument',
      message: /must contain a field named 'X-Amz-Signature'.*check the order of the fields/,
      run: async () => {
        const p = await presign({});
        const entries = formOf(p, JPEG, { 'X-Amz-Signature': undefined });
        entries.push(['X-Amz-Signature', p.fields['X-Amz-Signature'] ?? '']);
        return post(p.url, entries);
      },
    },
    {
      name: 'a policy-covered field after the file (ignored, so its condition fails)',
      status: 403,
      code: 'AccessDenied',
      message: /Policy Condition failed: \["eq", "\$Content-Type"/,
      run: async () => {
        const p = await presign({});
        const entries = formOf(p, JPEG, { 'Content-Type': undefined });
        entries.push(['Content-Type', 'image/jpeg']);
        return post(p.url, entries);
      },
    },
    {
      name: 'no file at all',
      status: 400,
      code: 'IncorrectNumberOfFilesInPostRequest',
      run: async () => {
        const p = await presign({});
        return post(p.url, formOf(p, JPEG).slice(0, -1));
      },
    },
    {
      name: 'unknown bucket',
      status: 404,
      code: 'NoSuchBucket',
      run: async () => {
        const p = await presign({});
        return post(`${s3.url}/no-such-bucket`, formOf(p, JPEG));
      },
    },
    {
      name: 'unknown access key',
      status: 403,
      code: 'InvalidAccessKeyId',
      run: async () => {
        const p = await createPresignedPost(
          new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' } }),
          { Bucket: BUCKET, Key: 'k.jpg', Expires: 60 },
        );
        return post(p.url, formOf(p, JPEG));
      },
    },
    {
      name: 'credential for another region',
      status: 400,
      code: 'AuthorizationHeaderMalformed',
      run: async () => {
        const p = await createPresignedPost(
          new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'eu-west-1', credentials: CREDS }),
          { Bucket: BUCKET, Key: 'k.jpg', Expires: 60 },
        );
        return post(p.url, formOf(p, JPEG));
      },
    },
    {
      name: 'Content-MD5 that does not match the file',
      status: 400,
      code: 'BadDigest',
      run: async () => {
        const p = await presign({ fields: { 'Content-MD5': createHash('md5').update('other bytes').digest('base64') } });
        return post(p.url, formOf(p, JPEG));
      },
    },
    {
      name: 'form fields before the file over 20 KB',
      status: 400,
      code: 'MaxPostPreDataLengthExceededError',
      run: async () => {
        const p = await presign({ conditions: [['starts-with', '$x-amz-meta-big', '']] });
        return post(p.url, formOf(p, JPEG, { 'x-amz-meta-big': 'x'.repeat(21 * 1024) }));
      },
    },
    {
      // AWS: user-defined metadata is limited to 2 KB (keys and values, UTF-8): docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html
      name: 'user metadata over 2 KB',
      status: 400,
      code: 'MetadataTooLarge',
      run: async () => {
        const p = await presign({ conditions: [['starts-with', '$x-amz-meta-a', ''], ['starts-with', '$x-amz-meta-b', '']] });
        return post(p.url, formOf(p, JPEG, { 'x-amz-meta-a': 'x'.repeat(1100), 'x-amz-meta-b': 'y'.repeat(1000) }));
      },
    },
  ];

  for (const c of cases) {
    it(`rejects: ${c.name} -> ${c.status} ${c.code}`, async () => {
      const rejected = s3.stats.rejected;
      const stored = s3.stats.stored;
      const res = await c.run();
      expect(res.status).toBe(c.status);
      expect(res.code).toBe(c.code);
      expect(res.body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>/);
      expect(res.body).toMatch(/<RequestId>[0-9A-F]{16}<\/RequestId><HostId>[^<]+<\/HostId><\/Error>$/);
      if (typeof c.message === 'string') expect(res.message).toBe(c.message);
      else if (c.message) expect(res.message).toMatch(c.message);
      expect(s3.stats.rejected).toBe(rejected + 1);
      expect(s3.stats.stored).toBe(stored);
    });
  }

  it('refuses a POST without Content-Length (chunked) with 411 MissingContentLength', async () => {
    const p = await presign({});
    const boundary = 'xyzBOUNDARY';
    const parts = Object.entries(p.fields).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
    const body = `${parts.join('')}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\nabc\r\n--${boundary}--\r\n`;
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${s3.url}/${BUCKET}`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(411);
  });

  it('answers injected faults (503 SlowDown, then 500 InternalError) and then stores again', async () => {
    const p = await presign({ key: 'things/cam-1/fault.jpg' });
    const seen: Array<{ status: number; code?: string }> = [];
    const onRequest = (ev: { status: number; code?: string }) => seen.push({ status: ev.status, ...(ev.code ? { code: ev.code } : {}) });
    s3.events.on('request', onRequest);
    s3.setFaults({ failNext: { status: 503, count: 2 } });
    const first = await post(p.url, formOf(p, JPEG));
    const second = await post(p.url, formOf(p, JPEG));
    s3.setFaults({ failNext: { status: 500, count: 1 } });
    const third = await post(p.url, formOf(p, JPEG));
    const fourth = await post(p.url, formOf(p, JPEG));
    s3.events.off('request', onRequest);
    expect([first.code, second.code, third.code]).toEqual(['SlowDown', 'SlowDown', 'InternalError']);
    expect([first.status, third.status, fourth.status]).toEqual([503, 500, 204]);
    expect(seen).toEqual([
      { status: 503, code: 'SlowDown' },
      { status: 503, code: 'SlowDown' },
      { status: 500, code: 'InternalError' },
      { status: 204 },
    ]);
    expect(await readFile(path.join(root, BUCKET, 'things/cam-1/fault.jpg'))).toEqual(JPEG);
  });

  it('counts connections', async () => {
    expect(s3.stats.connections).toBeGreaterThan(0);
    expect(s3.stats.posts).toBe(s3.stats.stored + s3.stats.rejected);
  });
});

describe('startS3 options', () => {
  it('refuses a body over maxBodyBytes with 400 EntityTooLarge and stores nothing', async () => {
    const small = await startS3({ rootDir: root, buckets: [BUCKET], credentials: [CREDS], maxBodyBytes: 2000 });
    try {
      const p = await createPresignedPost(
        new S3Client({ endpoint: small.url, forcePathStyle: true, region: 'us-east-1', credentials: CREDS }),
        { Bucket: BUCKET, Key: 'big.bin', Expires: 60 },
      );
      const res = await post(p.url, formOf(p, Buffer.alloc(4000, 1)));
      expect([res.status, res.code]).toEqual([400, 'EntityTooLarge']);
      expect(small.stats).toMatchObject({ posts: 1, stored: 0, rejected: 1 });
    } finally {
      await small.stop();
    }
  });

  it('refuses an invalid bucket name with a message naming it', async () => {
    await expect(startS3({ rootDir: root, buckets: ['Bad_Bucket'], credentials: [CREDS] })).rejects.toThrow(/bucket name "Bad_Bucket"/);
  });
});
