import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { captureLog } from '../../../../test/helpers/agent-connection-kit.js';
import { startCameraSimulator, type CameraSimulator } from '../../../devcloud/camera/simulator.js';
import { startS3, type S3StandIn } from '../../../devcloud/s3/server.js';
import { fixedCredentials } from '../../../protocol/vapix/auth.js';
import { VapixClient } from '../../../protocol/vapix/client.js';
import { RequestJournal } from '../../request-journal.js';
import { createCaptureStep, type CaptureStep } from '../pipeline/capture.js';
import { createUploadStep, type UploadStep } from '../pipeline/upload.js';
import { createRequestSteps } from './uploader.js';

/**
 * The requested snapshot's steps with the real camera simulator, the S3 stand-in and the agent's own
 * capture and upload steps: once S3 has the JPEG, its memory is handed back at once rather than at
 * V8's next full GC (issue 21's peak after 100 snapshots, docs/benchmarks.md), and never while the
 * upload may still be reading it.
 */
const BUCKET = 'cloudcam-steps';
const CREDS = { accessKeyId: 'AKIDSTEPS', secretAccessKey: 'steps-secret' };
const CAMERA = { username: 'root', password: 'steps pw' };

describe('requested snapshot steps: the JPEG after the upload', () => {
  let outer: string;
  let cam: CameraSimulator;
  let s3: S3StandIn;
  let client: S3Client;
  let upload: UploadStep;

  beforeAll(async () => {
    outer = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-steps-'));
    cam = await startCameraSimulator({ name: 'cam-1', ...CAMERA });
    s3 = await startS3({ rootDir: path.join(outer, 's3'), buckets: [BUCKET], credentials: [CREDS] });
    client = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials: CREDS });
  });
  afterEach(() => {
    upload.close();
    s3.setFaults({});
  });
  afterAll(async () => {
    client.destroy();
    await s3.stop();
    await cam.stop();
    await rm(outer, { recursive: true, force: true });
  });

  /** The steps as feature.ts wires them; `seen` gets each captured Buffer and a copy of its bytes. */
  async function steps(seen: { jpeg: Buffer; bytes: Buffer }[]) {
    const host = new URL(s3.url).host;
    upload = createUploadStep({ target: { allowedHosts: [host], insecureHttpHosts: [host] }, timeoutMs: 5000, pools: 1 });
    const camera = new VapixClient({ baseUrl: cam.url, credentials: fixedCredentials(CAMERA), timeoutMs: 5000 });
    const real = createCaptureStep(camera, { resolution: '1920x1080', compression: 30, maxBytes: 5_000_000 });
    const capture: CaptureStep = async (wish, signal) => {
      const jpeg = await real(wish, signal);
      seen.push({ jpeg, bytes: Buffer.from(jpeg) });
      return jpeg;
    };
    return createRequestSteps({
      clock: { now: () => Date.now(), offsetMs: 0 },
      capture,
      upload,
      journal: await RequestJournal.open(await mkdtemp(path.join(outer, 'state-'))),
      log: captureLog().log,
      maxBytes: 5_000_000,
      uploadAttempts: 1,
      signal: new AbortController().signal,
      now: () => new Date(),
    });
  }

  async function job(id: string) {
    const post = await createPresignedPost(client, { Bucket: BUCKET, Key: `cam-1/${id}.jpg`, Expires: 300, Conditions: [['content-length-range', 1, 5_000_000]] });
    const request = { id, url: post.url, fields: post.fields, expiresAt: new Date(Date.now() + 300_000).toISOString(), maxBytes: 5_000_000 };
    return { request, receivedAt: Date.now() };
  }

  it('uploaded: S3 holds the camera\'s bytes, the report counts them, and the JPEG\'s memory is handed back (the Buffer is empty)', async () => {
    const seen: { jpeg: Buffer; bytes: Buffer }[] = [];
    const run = await steps(seen);
    const report = await run(await job('released'));
    const first = seen[0];
    if (!first) throw new Error('nothing captured');
    expect(first.bytes.length).toBeGreaterThan(10_000);
    expect(report).toMatchObject({ status: 'uploaded', bytes: first.bytes.length });
    expect(await readFile(path.join(outer, 's3', BUCKET, 'cam-1', 'released.jpg'))).toEqual(first.bytes);
    expect(first.jpeg.length).toBe(0);
    expect(first.jpeg.buffer.byteLength).toBe(0);
  });

  it('failed upload: the JPEG is left to the GC (the connection may still hold it)', async () => {
    s3.setFaults({ failNext: { status: 503, count: 1 } });
    const seen: { jpeg: Buffer; bytes: Buffer }[] = [];
    const run = await steps(seen);
    const report = await run(await job('kept'));
    expect(report.status).toBe('failed');
    expect(seen[0]?.jpeg).toEqual(seen[0]?.bytes);
  });
});
