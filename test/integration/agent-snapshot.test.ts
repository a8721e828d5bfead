import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import {
  MQTT_MATRIX,
  desiredSnapshot,
  nextCloudRequest,
  putRequest,
  requestSnapshot,
  startTestAgent,
  startTestDevcloud,
  waitForReport,
  type TestAgent,
  type TestDevcloud,
} from '../helpers/devcloud.js';
import type { SnapshotRequest } from '../../src/protocol/snapshot.js';
import type { S3StoredObject } from '../../src/devcloud/s3/server.js';

const thing = 'camera-1';

describe.each(MQTT_MATRIX)('agent snapshot loop ($label)', ({ broker, mqttVersion }) => {
  let t: TestDevcloud;
  let a: TestAgent | undefined;
  const stored: S3StoredObject[] = [];
  const configure = (c: Parameters<Parameters<typeof startTestAgent>[2] & object>[0]): void => {
    c.iot.mqttVersion = mqttVersion;
    c.snapshot.captureTimeoutMs = 1500;
  };

  beforeAll(async () => {
    t = await startTestDevcloud({ broker });
    t.dc.s3.events.on('object', (o: S3StoredObject) => stored.push(o));
  });
  afterAll(async () => {
    await a?.stop();
    await t.cleanup();
  });

  const agentUnderTest = (): TestAgent => {
    if (!a) throw new Error('no agent running');
    return a;
  };
  const uploadsOf = (key: string): number => stored.filter((o) => o.key === key).length;

  it('serves the request made when it comes online: camera → agent → S3, reported, desired cleared', async () => {
    const first = new Promise<SnapshotRequest>((resolve) => {
      t.dc.rules.on('handled', (r) => {
        if (r.action === 'requested') resolve(r.request);
      });
    });
    a = await startTestAgent(t.dc, thing, configure);
    const request = await first;
    const report = await waitForReport(t.dc, thing, request.id);
    expect(report).toMatchObject({ id: request.id, status: 'uploaded', key: request.fields['key'] });
    expect(report.error).toBeUndefined();
    const file = await readFile(path.join(t.dc.info.s3.dir, t.dc.info.s3.bucket, request.fields['key']!));
    expect(file.length).toBe(report.bytes);
    const meta = await sharp(file).metadata();
    expect(meta.format).toBe('jpeg');
    expect(`${meta.width}x${meta.height}`).toBe(a.config.snapshot.resolution);
    expect(desiredSnapshot(t.dc, thing)).toBeUndefined();
    expect(uploadsOf(request.fields['key']!)).toBe(1);
  });

  it('honours the resolution and compression a request asks for', async () => {
    const request = await requestSnapshot(t.dc, thing);
    // The handler wrote it already; write it again with overrides under a new id.
    const custom = { ...request, id: `${request.id}-small`, resolution: '640x360', compression: 60 };
    const reportP = waitForReport(t.dc, thing, custom.id);
    await waitForReport(t.dc, thing, request.id);
    putRequest(t.dc, thing, custom);
    const report = await reportP;
    // Same presigned key as the first: S3 overwrote it with the small one.
    expect(report.status).toBe('uploaded');
    const meta = await sharp(await readFile(path.join(t.dc.info.s3.dir, t.dc.info.s3.bucket, custom.fields['key']!))).metadata();
    expect(`${meta.width}x${meta.height}`).toBe('640x360');
  });

  it('uploads a duplicated or replayed request once, and clears it again', async () => {
    const request = await requestSnapshot(t.dc, thing);
    await waitForReport(t.dc, thing, request.id);
    const s3Posts = t.dc.s3.stats.posts;
    // Replay the same request into desired twice: each makes a delta the agent must ignore.
    for (let i = 0; i < 2; i++) {
      const resent = waitForReport(t.dc, thing, request.id);
      putRequest(t.dc, thing, request);
      const again = await resent;
      expect(again.status).toBe('uploaded');
    }
    expect(t.dc.s3.stats.posts).toBe(s3Posts);
    expect(uploadsOf(request.fields['key']!)).toBe(1);
    expect(desiredSnapshot(t.dc, thing)).toBeUndefined();
  });

  it('a request written while the agent is offline is served when it reconnects, once, also after a restart', async () => {
    await a!.stop();
    const offline = await requestSnapshot(t.dc, thing);
    const served = waitForReport(t.dc, thing, offline.id);
    const onlineRequest = nextCloudRequest(t.dc, thing);
    a = await startTestAgent(t.dc, thing, configure);
    expect(await served).toMatchObject({ id: offline.id, status: 'uploaded' });
    // The cloud answers the agent's presence `online` with a request of its own. Let it land (and be
    // served) before the restart: landing later, it would overwrite the request put back below.
    await waitForReport(t.dc, thing, (await onlineRequest).id);

    // Restart, then put the handled request back (as if its report had been lost): no second upload.
    await a.stop();
    putRequest(t.dc, thing, offline);
    const resent = waitForReport(t.dc, thing, offline.id);
    a = await startTestAgent(t.dc, thing, configure);
    expect(await resent).toMatchObject({ id: offline.id, status: 'uploaded' });
    expect(uploadsOf(offline.fields['key']!)).toBe(1);
  });

  it('one snapshot at a time: a newer request supersedes a queued one and is never wiped by the older report', async () => {
    const camera = t.dc.cameras.get(thing)!;
    const base = await requestSnapshot(t.dc, thing);
    await waitForReport(t.dc, thing, base.id);
    camera.setFaults({ delayMs: 500 });
    try {
      const [first, queued, newest] = ['a', 'b', 'c'].map((s) => ({ ...base, id: `${base.id}-${s}`, fields: { ...base.fields } }));
      const reports = [first!, queued!, newest!].map((r) => waitForReport(t.dc, thing, r.id));
      putRequest(t.dc, thing, first!);
      await agentUnderTest().waitForLog((l) => l['event'] === 'snapshot.capturing' && l['id'] === first!.id); // first is in flight, not queued
      putRequest(t.dc, thing, queued!);
      putRequest(t.dc, thing, newest!);
      const [rFirst, rQueued, rNewest] = await Promise.all(reports);
      expect(rFirst).toMatchObject({ status: 'uploaded' });
      expect(rQueued).toMatchObject({ status: 'rejected', error: `superseded by newer request ${newest!.id}` });
      expect(rNewest).toMatchObject({ status: 'uploaded' });
      expect(desiredSnapshot(t.dc, thing)).toBeUndefined();
    } finally {
      camera.setFaults({});
    }
  });

  it('an expired request is reported expired and the camera is not touched', async () => {
    const request = await requestSnapshot(t.dc, thing);
    await waitForReport(t.dc, thing, request.id);
    const snapshots = t.dc.cameras.get(thing)!.stats.snapshots;
    const expired = { ...request, id: `${request.id}-old`, expiresAt: new Date(Date.now() - 1000).toISOString() };
    const report = waitForReport(t.dc, thing, expired.id);
    putRequest(t.dc, thing, expired);
    expect(await report).toMatchObject({ status: 'expired', bytes: 0, error: expect.stringContaining('expired') as unknown });
    expect(t.dc.cameras.get(thing)!.stats.snapshots).toBe(snapshots);
  });

  it('a host off the allow-list is rejected and never connected to', async () => {
    let connections = 0;
    const trap = net.createServer((s) => {
      connections += 1;
      s.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    const port = (trap.address() as net.AddressInfo).port;
    try {
      const base = await requestSnapshot(t.dc, thing);
      await waitForReport(t.dc, thing, base.id);
      for (const [suffix, url] of [
        ['trap', `http://localhost:${port}/cloudcam-snapshots`],
        ['trap-ip', `http://127.0.0.1:${port}/cloudcam-snapshots`],
        ['metadata', 'http://169.254.169.254/latest/meta-data/'],
        ['file', 'file:///etc/passwd'],
      ] as const) {
        const bad = { ...base, id: `${base.id}-${suffix}`, url };
        const report = waitForReport(t.dc, thing, bad.id);
        putRequest(t.dc, thing, bad);
        expect(await report).toMatchObject({ status: 'rejected', bytes: 0 });
      }
      expect(connections).toBe(0);
    } finally {
      trap.close();
    }
  });

  it.each([
    ['401', { status: 401 as const }, /camera: .*(password|credential|user)/i],
    ['503', { status: 503 as const }, /camera: .*503/],
    ['timeout', { delayMs: 4000 }, /camera: .*(time|timed out)/i],
  ])('camera %s -> failed with a clear error', async (_name, faults, message) => {
    const camera = t.dc.cameras.get(thing)!;
    const request = await requestSnapshot(t.dc, thing);
    await waitForReport(t.dc, thing, request.id);
    camera.setFaults(faults);
    try {
      const failing = { ...request, id: `${request.id}-cam` };
      const report = waitForReport(t.dc, thing, failing.id);
      putRequest(t.dc, thing, failing);
      const r = await report;
      expect(r.status).toBe('failed');
      expect(r.error).toMatch(message);
    } finally {
      camera.setFaults({});
    }
  });

  it('S3 refusals -> failed with S3 code: 403 SignatureDoesNotMatch, 400 EntityTooLarge', async () => {
    const request = await requestSnapshot(t.dc, thing);
    await waitForReport(t.dc, thing, request.id);
    const sig = request.fields['X-Amz-Signature']!;
    const tampered = { ...request, id: `${request.id}-sig`, fields: { ...request.fields, 'X-Amz-Signature': sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0') } };
    const r1 = waitForReport(t.dc, thing, tampered.id);
    putRequest(t.dc, thing, tampered);
    expect(await r1).toMatchObject({ status: 'failed', error: expect.stringContaining('SignatureDoesNotMatch') as unknown });

    const s3 = new S3Client({ region: t.dc.info.region, endpoint: t.dc.info.s3.url, forcePathStyle: true, credentials: { accessKeyId: t.dc.info.s3.accessKeyId, secretAccessKey: t.dc.info.s3.secretAccessKey } });
    const small = await createPresignedPost(s3, {
      Bucket: t.dc.info.s3.bucket,
      Key: `${thing}/too-large.jpg`,
      Conditions: [['content-length-range', 1, 1000], ['eq', '$Content-Type', 'image/jpeg']],
      Fields: { 'Content-Type': 'image/jpeg' },
      Expires: 60,
    });
    s3.destroy();
    const tooLarge = { id: `${request.id}-big`, url: small.url, fields: small.fields, expiresAt: new Date(Date.now() + 60_000).toISOString(), maxBytes: 5_000_000 };
    const r2 = waitForReport(t.dc, thing, tooLarge.id);
    putRequest(t.dc, thing, tooLarge);
    expect(await r2).toMatchObject({ status: 'failed', error: expect.stringContaining('EntityTooLarge') as unknown });
  });

  it('malformed requests are rejected and the agent keeps serving the next one', async () => {
    const base = await requestSnapshot(t.dc, thing);
    await waitForReport(t.dc, thing, base.id);
    const cases: Record<string, unknown>[] = [
      { ...base, id: `${base.id}-m1`, url: 5 },
      { ...base, id: `${base.id}-m2`, fields: 'nope' },
      { ...base, id: `${base.id}-m3`, maxBytes: '100' },
      { ...base, id: `${base.id}-m4`, expiresAt: undefined },
      { ...base, id: `${base.id}-m5`, url: `https://h.example/${'a'.repeat(3000)}` },
      { ...base, id: `${base.id}-m6`, command: 'reboot' },
    ];
    for (const bad of cases) {
      const report = waitForReport(t.dc, thing, bad['id'] as string);
      putRequest(t.dc, thing, bad);
      const r = await report;
      expect(r.status).toBe('rejected');
      expect(r.error).toMatch(/^snapshot/);
    }
    // No id at all: nothing to report against; the agent clears it.
    putRequest(t.dc, thing, { url: 'x' });
    const next = await requestSnapshot(t.dc, thing);
    expect(await waitForReport(t.dc, thing, next.id)).toMatchObject({ status: 'uploaded' });
    expect(desiredSnapshot(t.dc, thing)).toBeUndefined();
  });
});
