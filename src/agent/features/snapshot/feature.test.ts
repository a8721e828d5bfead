import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { captureLog, testConfig } from '../../../../test/helpers/agent-connection-kit.js';
import { FakeShadowLink } from '../../../../test/helpers/fake-shadow-link.js';
import { startCameraSimulator, type CameraSimulator } from '../../../devcloud/camera/simulator.js';
import { startS3, type S3StandIn } from '../../../devcloud/s3/server.js';
import type { SnapshotReport, SnapshotRequest } from '../../../protocol/snapshot.js';
import { VapixClient } from '../../../protocol/vapix/client.js';
import { fixedCredentials } from '../../../protocol/vapix/auth.js';
import type { FeatureContext } from '../../feature.js';
import { RequestJournal } from '../../request-journal.js';
import { createSnapshotFeature, type SnapshotFeature } from './feature.js';

/**
 * The snapshot feature's glue, as main.ts wires it (one FeatureContext), against the in-memory
 * shadow link, devcloud's camera simulator and its S3 stand-in: what happens on connect, the resync
 * timer that repeats a refused report or shadow read while connected, and a stop mid-capture.
 */
const BUCKET = 'cloudcam-unit';
const CREDS = { accessKeyId: 'AKIDSNAPFEAT', secretAccessKey: 'snapfeat-secret' };
const CAMERA = { username: 'root', password: 'unit pw' };

describe('snapshot feature (glue) with one context', () => {
  let outer: string;
  let cam: CameraSimulator;
  let s3: S3StandIn;
  let client: S3Client;
  const stored: string[] = [];
  const captured = captureLog();

  let link: FakeShadowLink;
  let journal: RequestJournal;
  let feature: SnapshotFeature;
  let reports: SnapshotReport[];
  let waiters: { id: string; resolve: (r: SnapshotReport) => void }[];
  const finalFor = (id: string): Promise<SnapshotReport> => {
    const seen = reports.find((r) => r.id === id);
    return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ id, resolve }));
  };

  beforeAll(async () => {
    outer = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-snapfeat-'));
    cam = await startCameraSimulator({ name: 'cam-1', ...CAMERA });
    s3 = await startS3({ rootDir: path.join(outer, 's3'), buckets: [BUCKET], credentials: [CREDS] });
    s3.events.on('object', (o: { key: string }) => stored.push(o.key));
    client = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials: CREDS });
  });
  afterAll(async () => {
    client.destroy();
    await s3.stop();
    await cam.stop();
    await rm(outer, { recursive: true, force: true });
  });

  beforeEach(async () => {
    link = new FakeShadowLink({ thing: 'cam-1', shadow: 'cloudcam' });
    journal = await RequestJournal.open(await mkdtemp(path.join(outer, 'state-')));
    reports = [];
    waiters = [];
    const s3Host = new URL(s3.url).host;
    const config = testConfig({ caPath: '', certPath: '', keyPath: '' }, { thingName: 'cam-1', port: 8883 });
    config.snapshot = { ...config.snapshot, resolution: '800x600', allowedUploadHosts: [s3Host], insecureHttpUploadHosts: [s3Host] };
    const credentials = fixedCredentials(CAMERA);
    const ctx: FeatureContext = {
      config,
      thing: 'cam-1',
      connection: link,
      camera: new VapixClient({ baseUrl: cam.url, credentials, timeoutMs: 5000 }),
      cameraAccess: { access: 'configured', baseUrl: cam.url, credentials },
      version: 'test',
      log: captured.log,
      now: () => new Date(),
    };
    const onReport = (r: SnapshotReport): void => {
      reports.push(r);
      for (const w of waiters.filter((x) => x.id === r.id)) w.resolve(r);
    };
    feature = createSnapshotFeature(ctx, { journal, events: { onReport }, stopGraceMs: 100, resyncMs: 50 });
    await feature.start();
  });
  afterEach(async () => {
    await feature.stop();
    cam.setFaults({});
  });

  /** What the cloud handler writes into desired.snapshot: a presigned POST for {thing}/{id}.jpg. */
  async function request(id: string): Promise<SnapshotRequest> {
    const post = await createPresignedPost(client, { Bucket: BUCKET, Key: `cam-1/${id}.jpg`, Expires: 300, Conditions: [['content-length-range', 1, 5_000_000]] });
    return { id, url: post.url, fields: post.fields, expiresAt: new Date(Date.now() + 300_000).toISOString(), maxBytes: 5_000_000 };
  }

  it('on connect: reads the shadow and serves the request written while offline (validate → capture → upload → report)', async () => {
    link.cloudUpdate({ desired: { snapshot: await request('a') } }); // before it subscribed: only the GET finds it
    await feature.onConnected!();
    expect(await finalFor('a')).toMatchObject({ status: 'uploaded', key: 'cam-1/a.jpg', error: null });
    expect(stored).toContain('cam-1/a.jpg');
    expect(link.state().desired?.['snapshot']).toBeUndefined();
    expect(link.state().reported?.['snapshot']).toMatchObject({ id: 'a', status: 'uploaded' });
    expect(journal.get('a')?.state).toBe('done');
    await feature.idle();
  });

  it('a report the shadow service refused (429) is sent again by the resync timer while connected, without a reconnect', async () => {
    link.refuseNext('update', 429);
    link.cloudUpdate({ desired: { snapshot: await request('b') } });
    await feature.onConnected!();
    expect(await finalFor('b')).toMatchObject({ status: 'uploaded' });
    await captured.waitFor((l) => l['event'] === 'snapshot.report-failed' && l['id'] === 'b');
    await captured.waitFor((l) => l['event'] === 'snapshot.reported-late' && l['id'] === 'b');
    expect(link.state().desired?.['snapshot']).toBeUndefined();
    expect(link.state().reported?.['snapshot']).toMatchObject({ id: 'b', status: 'uploaded' });
  });

  it('a shadow read that failed on connect (500) is repeated by the resync timer, and its request served', async () => {
    link.refuseNext('get', 500);
    link.cloudUpdate({ desired: { snapshot: await request('c') } });
    await feature.onConnected!();
    await captured.waitFor((l) => l['event'] === 'shadow.get-failed' && l['why'] === 'connected');
    expect(await finalFor('c')).toMatchObject({ status: 'uploaded' });
  });

  it('stop abandons a capture that outlasts the grace: the request ends failed, journalled and reported', async () => {
    cam.setFaults({ delayMs: 10_000 });
    link.cloudUpdate({ desired: { snapshot: await request('d') } });
    await feature.onConnected!();
    await captured.waitFor((l) => l['event'] === 'snapshot.capturing' && l['id'] === 'd');
    await feature.stop();
    expect(await finalFor('d')).toMatchObject({ status: 'failed', error: 'agent stopped during capture' });
    expect(journal.get('d')?.state).toBe('done');
    expect(link.state().reported?.['snapshot']).toMatchObject({ id: 'd', status: 'failed' });
    expect(stored).not.toContain('cam-1/d.jpg');
  });
});
