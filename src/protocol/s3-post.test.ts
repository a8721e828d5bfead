import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startS3, type S3StandIn, type S3StoredObject } from '../devcloud/s3/server.js';
import { releaseBuffer } from '../lib/release-buffer.js';
import { S3UploadError, uploadPresignedPost, type PresignedPost } from './s3-post.js';
import { rejectionOf } from '../../test/helpers/rejection.js';

const BUCKET = 'cloudcam-client';
const CREDS = { accessKeyId: 'AKIDCLIENT', secretAccessKey: 'client-secret' };
const TEMP = { accessKeyId: 'ASIACLIENT', secretAccessKey: 'client-temp-secret', sessionToken: 'client-session-token-0123456789' };
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(300, 7), Buffer.from([0xff, 0xd9])]);

let root: string;
let s3: S3StandIn;
let clockOffset = 0;
const extraServers: Server[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 's3-client-'));
  s3 = await startS3({ rootDir: root, buckets: [BUCKET], credentials: [CREDS, TEMP], now: () => Date.now() + clockOffset });
});
afterAll(async () => {
  await s3.stop();
  await rm(root, { recursive: true, force: true });
});
afterEach(async () => {
  clockOffset = 0;
  s3.setFaults({});
  for (const server of extraServers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function presign(opts: { key?: string; max?: number; min?: number; expires?: number; contentTypeField?: boolean; credentials?: typeof CREDS | typeof TEMP; fields?: Record<string, string> } = {}): Promise<PresignedPost> {
  const client = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials: opts.credentials ?? CREDS });
  return createPresignedPost(client, {
    Bucket: BUCKET,
    Key: opts.key ?? 'things/cam-1/client.jpg',
    Conditions: [
      ['content-length-range', opts.min ?? 1, opts.max ?? 4096],
      ['eq', '$Content-Type', 'image/jpeg'],
    ],
    Fields: { ...(opts.contentTypeField === false ? {} : { 'Content-Type': 'image/jpeg' }), ...(opts.fields ?? {}) },
    Expires: opts.expires ?? 60,
  });
}

const failure = (p: Promise<unknown>): Promise<S3UploadError> => rejectionOf(p, S3UploadError);

/** A plain HTTP server for answers the stand-in never gives. */
async function rawServer(handler: (body: Buffer, headers: IncomingHttpHeaders) => { status: number; body: string } | undefined): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = handler(Buffer.concat(chunks), req.headers);
      if (!answer) return; // never answers
      res.writeHead(answer.status, { 'content-type': 'application/xml' });
      res.end(answer.body);
    });
  });
  extraServers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/${BUCKET}`;
}

const opts = { contentType: 'image/jpeg', timeoutMs: 5000 };

describe('uploadPresignedPost against the S3 stand-in', () => {
  it('uploads: 204, ETag is the MD5, Location, bytes on disk equal', async () => {
    const post = await presign();
    const stored = new Promise<S3StoredObject>((resolve) => s3.events.once('object', resolve));
    const agent = new Agent({ keepAlive: true });
    try {
      const result = await uploadPresignedPost(post, JPEG, { ...opts, agent });
      expect(result.status).toBe(204);
      expect(result.etag).toBe(createHash('md5').update(JPEG).digest('hex'));
      expect(result.location).toBe(`${s3.url}/${BUCKET}/things/cam-1/client.jpg`);
      expect(result.ms).toBeGreaterThanOrEqual(0);
    } finally {
      agent.destroy();
    }
    const obj = await stored;
    expect(obj.contentType).toBe('image/jpeg');
    expect(await readFile(obj.path)).toEqual(JPEG);
  });

  it('adds the Content-Type field when the policy needs it and the fields lack it', async () => {
    const post = await presign({ key: 'things/cam-1/ct.jpg', contentTypeField: false });
    expect(Object.keys(post.fields).map((k) => k.toLowerCase())).not.toContain('content-type');
    const result = await uploadPresignedPost(post, JPEG, opts);
    expect(result.status).toBe(204);
  });

  it('does not add Content-Type when the policy has no condition for it (S3 would call it an extra field)', async () => {
    const client = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials: CREDS });
    const post = await createPresignedPost(client, { Bucket: BUCKET, Key: 'things/cam-1/noct.bin', Expires: 60 });
    const stored = new Promise<S3StoredObject>((resolve) => s3.events.once('object', resolve));
    expect((await uploadPresignedPost(post, JPEG, opts)).status).toBe(204);
    expect((await stored).contentType).toBe('binary/octet-stream');
  });

  it('sends the filename for ${filename} keys and reads the 201 PostResponse', async () => {
    const post = await presign({ key: 'things/cam-1/${filename}', fields: { success_action_status: '201' } });
    const result = await uploadPresignedPost(post, JPEG, { ...opts, filename: 'req-42.jpg' });
    expect(result.status).toBe(201);
    expect(result.location).toBe(`${s3.url}/${BUCKET}/things/cam-1/req-42.jpg`);
    expect(await readFile(path.join(root, BUCKET, 'things/cam-1/req-42.jpg'))).toEqual(JPEG);
  });

  it('uploads with temporary credentials (session token field)', async () => {
    const post = await presign({ key: 'things/cam-1/temp.jpg', credentials: TEMP });
    expect((await uploadPresignedPost(post, JPEG, opts)).status).toBe(204);
  });

  const rejections: Array<{ name: string; status: number; code: string; run: () => Promise<unknown> }> = [
    {
      name: 'expired policy',
      status: 403,
      code: 'AccessDenied',
      run: async () => {
        const post = await presign({ expires: 1 });
        clockOffset = 5000;
        return uploadPresignedPost(post, JPEG, opts);
      },
    },
    {
      name: 'tampered signature',
      status: 403,
      code: 'SignatureDoesNotMatch',
      run: async () => {
        const post = await presign();
        const sig = post.fields['X-Amz-Signature'] ?? '';
        return uploadPresignedPost({ url: post.url, fields: { ...post.fields, 'X-Amz-Signature': `${sig[0] === 'f' ? 'e' : 'f'}${sig.slice(1)}` } }, JPEG, opts);
      },
    },
    {
      name: 'oversize file',
      status: 400,
      code: 'EntityTooLarge',
      run: async () => uploadPresignedPost(await presign({ max: 100 }), JPEG, opts),
    },
    {
      name: 'undersize file',
      status: 400,
      code: 'EntityTooSmall',
      run: async () => uploadPresignedPost(await presign({ min: 1000 }), JPEG, opts),
    },
    {
      name: 'wrong key',
      status: 403,
      code: 'AccessDenied',
      run: async () => {
        const post = await presign();
        return uploadPresignedPost({ url: post.url, fields: { ...post.fields, key: 'things/other/x.jpg' } }, JPEG, opts);
      },
    },
    {
      name: 'wrong content type',
      status: 403,
      code: 'AccessDenied',
      run: async () => {
        const post = await presign();
        return uploadPresignedPost({ url: post.url, fields: { ...post.fields, 'Content-Type': 'text/html' } }, JPEG, opts);
      },
    },
    {
      name: 'extra field',
      status: 403,
      code: 'AccessDenied',
      run: async () => {
        const post = await presign();
        return uploadPresignedPost({ url: post.url, fields: { ...post.fields, acl: 'public-read' } }, JPEG, opts);
      },
    },
    {
      name: 'unknown bucket',
      status: 404,
      code: 'NoSuchBucket',
      run: async () => {
        const post = await presign();
        return uploadPresignedPost({ url: `${s3.url}/nope-bucket`, fields: post.fields }, JPEG, opts);
      },
    },
    {
      name: 'wrong session token',
      status: 400,
      code: 'InvalidToken',
      run: async () => {
        const post = await presign({ credentials: TEMP });
        return uploadPresignedPost({ url: post.url, fields: { ...post.fields, 'X-Amz-Security-Token': 'forged-token-000000' } }, JPEG, opts);
      },
    },
  ];

  for (const r of rejections) {
    it(`fails without retry: ${r.name} -> ${r.status} ${r.code}`, async () => {
      const err = await failure(r.run());
      expect(err.status).toBe(r.status);
      expect(err.code).toBe(r.code);
      expect(err.retryable).toBe(false);
      expect(err.message).toContain(r.code);
    });
  }

  it('marks 503 SlowDown and 500 InternalError retryable, and succeeds once the faults are spent', async () => {
    const post = await presign({ key: 'things/cam-1/retry.jpg' });
    s3.setFaults({ failNext: { status: 503, count: 1 } });
    const slow = await failure(uploadPresignedPost(post, JPEG, opts));
    expect([slow.status, slow.code, slow.retryable]).toEqual([503, 'SlowDown', true]);
    s3.setFaults({ failNext: { status: 500, count: 1 } });
    const internal = await failure(uploadPresignedPost(post, JPEG, opts));
    expect([internal.status, internal.code, internal.retryable]).toEqual([500, 'InternalError', true]);
    expect((await uploadPresignedPost(post, JPEG, opts)).status).toBe(204);
  });

  it('times out, not retryable, when the server took the whole file and never answers (it may have stored it)', async () => {
    const url = await rawServer(() => undefined);
    const post = await presign();
    const started = Date.now();
    const err = await failure(uploadPresignedPost({ url, fields: post.fields }, JPEG, { ...opts, timeoutMs: 200 }));
    expect(err.code).toBe('Timeout');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('not sent again');
    expect(err.status).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a connection cut while the form is still being sent is a retryable NetworkError (S3 cannot have stored it)', async () => {
    // The server reads the first bytes, then resets the connection. 32 MB is far more than loopback's
    // socket buffers hold, so the cut always lands before the uploader's last byte left.
    const server = createServer((req) => {
      req.once('data', () => req.socket.resetAndDestroy());
    });
    extraServers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${BUCKET}`;
    const post = await presign();
    const err = await failure(uploadPresignedPost({ url, fields: post.fields }, Buffer.alloc(32 * 1024 * 1024, 0xff), opts));
    expect(err.code).toBe('NetworkError');
    expect(err.retryable).toBe(true);
    expect(err.message).not.toContain('not sent again');
  });

  it('times out against a stand-in told to delay its answer', async () => {
    s3.setFaults({ delayMs: 10_000 });
    const err = await failure(uploadPresignedPost(await presign(), JPEG, { ...opts, timeoutMs: 150 }));
    expect(err.code).toBe('Timeout');
  });

  it('reports the caller aborting as Aborted, not retryable', async () => {
    const url = await rawServer(() => undefined);
    const post = await presign();
    const controller = new AbortController();
    const pending = uploadPresignedPost({ url, fields: post.fields }, JPEG, { ...opts, signal: controller.signal });
    setImmediate(() => controller.abort());
    const err = await failure(pending);
    expect([err.code, err.retryable]).toEqual(['Aborted', false]);
  });

  it('reports a refused connection as a retryable NetworkError', async () => {
    const url = await rawServer(() => undefined);
    const server = extraServers.pop();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    const err = await failure(uploadPresignedPost({ url, fields: (await presign()).fields }, JPEG, opts));
    expect([err.code, err.retryable]).toEqual(['NetworkError', true]);
  });

  it('reports an answer without an S3 error document as BadResponse', async () => {
    const url = await rawServer(() => ({ status: 502, body: '<html>bad gateway</html>' }));
    const err = await failure(uploadPresignedPost({ url, fields: (await presign()).fields }, JPEG, opts));
    expect([err.code, err.status, err.retryable]).toEqual(['BadResponse', 502, true]);
  });

  it('never puts the policy, signature or session token in an error message, even when the server echoes them', async () => {
    const post = await presign({ credentials: TEMP });
    const secrets = [post.fields.Policy, post.fields['X-Amz-Signature'], post.fields['X-Amz-Security-Token']].filter((s): s is string => !!s);
    expect(secrets).toHaveLength(3);
    const url = await rawServer(() => ({
      status: 403,
      body: `<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><Message>sig ${secrets[1]} for ${secrets[0]} token ${secrets[2]}</Message><StringToSign>${secrets[0]}</StringToSign></Error>`,
    }));
    const errors = [await failure(uploadPresignedPost({ url, fields: post.fields }, JPEG, opts))];
    // And every rejection from the stand-in itself.
    for (const r of rejections) errors.push(await failure(r.run()));
    for (const err of errors) {
      const text = `${err.message} ${String(err)} ${JSON.stringify(err)}`;
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
    expect(errors[0]?.message).toContain('[redacted]');
  });

  it('sends an exact Content-Length (no chunked encoding), fields in order, and file last', async () => {
    let seen: { headers: IncomingHttpHeaders; body: Buffer } | undefined;
    const url = await rawServer((body, headers) => {
      seen = { body, headers };
      return { status: 204, body: '' };
    });
    const post = await presign({ contentTypeField: false });
    await uploadPresignedPost({ url, fields: post.fields }, JPEG, { ...opts, filename: 'a "quoted"\r\nname.jpg' });
    if (!seen) throw new Error('server saw no request');
    expect(seen.headers['transfer-encoding']).toBeUndefined();
    expect(Number(seen.headers['content-length'])).toBe(seen.body.length);
    const form = await new Response(seen.body, { headers: { 'content-type': String(seen.headers['content-type']) } }).formData();
    const names = [...form.keys()];
    expect(names).toEqual([...Object.keys(post.fields), 'Content-Type', 'file']);
    expect(form.get('Content-Type')).toBe('image/jpeg');
    const file = form.get('file');
    if (!(file instanceof Blob)) throw new Error('file part is not a file');
    expect(Buffer.from(await file.arrayBuffer())).toEqual(JPEG);
    // Escaped on the wire as browsers do (%22, %0D%0A); a WHATWG parser restores it intact.
    expect((file as File).name).toBe('a "quoted"\r\nname.jpg');
    expect(seen.body.toString('latin1')).toContain('filename="a %22quoted%22%0D%0Aname.jpg"');
  });

  it('a server that answers before reading the whole form: resolves at once, and nothing reads the file after that', async () => {
    // The agent hands a JPEG's memory back as soon as the upload resolves (release-buffer.ts), so no
    // write of it may still be pending then. Node's client stops sending a body once the answer has
    // come (seen on Node 20 and 26), so the rest is dropped with the connection, not left to the
    // timeout. 32 MB is far more than loopback's socket buffers hold: the answer always arrives first.
    const received = new Promise<{ bytes: number; promised: number; complete: boolean }>((resolve) => {
      const server = createServer((req, res) => {
        res.writeHead(204, { etag: '"early"' });
        res.end();
        let bytes = 0;
        req.on('data', (c: Buffer) => (bytes += c.length));
        // (The request itself emits no 'close' once its answer is sent; its connection does.)
        req.socket.once('close', () => resolve({ bytes, promised: Number(req.headers['content-length']), complete: req.complete }));
      });
      server.keepAliveTimeout = 0; // only the client may close the connection here
      extraServers.push(server);
      server.listen(0, '127.0.0.1');
    });
    const server = extraServers.at(-1);
    if (!server) throw new Error('no server');
    if (!server.listening) await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${BUCKET}`;
    const file = Buffer.alloc(32 * 1024 * 1024, 0xab);
    const started = Date.now();
    const result = await uploadPresignedPost({ url, fields: (await presign()).fields }, file, { ...opts, timeoutMs: 60_000 });
    expect([result.status, result.etag]).toEqual([204, 'early']);
    expect(Date.now() - started).toBeLessThan(10_000); // not the timeout
    // The connection is being closed already, not left holding the rest of the file.
    const got = await received;
    expect(got.complete).toBe(false);
    expect(got.bytes).toBeLessThan(got.promised);
    expect(releaseBuffer(file)).toBe(true);
  });

  it('refuses bad arguments with a TypeError naming the problem', async () => {
    const post = await presign();
    await expect(uploadPresignedPost({ url: 'ftp://x/y', fields: post.fields }, JPEG, opts)).rejects.toThrow(/must be http\(s\)/);
    await expect(uploadPresignedPost(post, JPEG, { ...opts, timeoutMs: 0 })).rejects.toThrow(/timeoutMs must be a positive/);
    await expect(uploadPresignedPost({ url: post.url, fields: { ...post.fields, file: 'x' } }, JPEG, opts)).rejects.toThrow(/must not contain "file"/);
  });
});
