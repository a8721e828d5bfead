import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3UploadError } from '../../../protocol/s3-post.js';
import { createUploadStep, uploadErrorMessage, type UploadStep } from './upload.js';

/**
 * The shared upload step against a real HTTP server that answers like S3: `answers` is the list of
 * statuses for the next POSTs (503 with S3's SlowDown document, else 204).
 */
describe('pipeline upload step', () => {
  let server: Server;
  let base: string;
  let step: UploadStep;
  const answers: number[] = [];
  let posts = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        posts += 1;
        const status = answers.shift() ?? 204;
        if (status === 204) return void res.writeHead(204).end();
        res.writeHead(status, { 'content-type': 'application/xml' }).end(`<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    base = `http://${host}/`;
    step = createUploadStep({ target: { allowedHosts: [host], insecureHttpHosts: [host] }, timeoutMs: 2000, pools: 1 });
  });
  afterAll(() => {
    step.close();
    server.close();
  });

  const form = () => ({ url: base, fields: { key: 'cam-1/a.jpg' } });
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);

  it('check refuses a host off the allow-list before anything connects', async () => {
    const before = posts;
    const target = await step.check('https://elsewhere.example.com/');
    expect(target.ok).toBe(false);
    expect(target.ok ? '' : target.error).toContain('not in snapshot.allowedUploadHosts');
    expect(posts).toBe(before);
  });

  it('retries S3 503s within the allowed attempts and reports each retry', async () => {
    const target = await step.check(base);
    if (!target.ok) throw new Error(target.error);
    answers.push(503, 503);
    const retries: number[] = [];
    const before = posts;
    await step.send(form(), jpeg, target, { retry: { attempts: 4, until: Date.now() + 60_000, now: Date.now, onRetry: (attempt) => retries.push(attempt) } });
    expect(retries).toEqual([1, 2]);
    expect(posts - before).toBe(3);
  });

  it('without retry (the event queue retries instead) one 503 is the answer', async () => {
    const target = await step.check(base);
    if (!target.ok) throw new Error(target.error);
    answers.push(503);
    const before = posts;
    const err = await step.send(form(), jpeg, target, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(S3UploadError);
    expect(uploadErrorMessage(err)).toMatch(/^S3 SlowDown \(HTTP 503\): /);
    expect(posts - before).toBe(1);
  });

  it('no retry starts past the presigned POST expiry', async () => {
    const target = await step.check(base);
    if (!target.ok) throw new Error(target.error);
    answers.push(503, 503);
    const before = posts;
    await expect(step.send(form(), jpeg, target, { retry: { attempts: 4, until: Date.now(), now: Date.now } })).rejects.toBeInstanceOf(S3UploadError);
    expect(posts - before).toBe(1);
    answers.length = 0;
  });
});
