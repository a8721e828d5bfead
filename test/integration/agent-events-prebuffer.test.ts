/**
 * Event snapshots with the pre-event buffer and the fleet cap, end to end on both brokers: the agent
 * keeps recent frames in memory and uploads the one nearest the event's time beside the one captured
 * after it (key `.pre.jpg`, metadata `frame-time`); events above `events.capPerMinute` are dropped,
 * counted and reported in the local API status, and never uploaded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import mqtt, { type MqttClient } from 'mqtt';
import sharp from 'sharp';
import { MQTT_MATRIX, startTestAgent, startTestDevcloud, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import type { S3StoredObject } from '../../src/devcloud/s3/server.js';
import type { CameraSimulator } from '../../src/devcloud/camera/simulator.js';

const thing = 'camera-1';
const MOTION = 'tns1:VideoSource/MotionAlarm';
const CAP = 3;

describe.each(MQTT_MATRIX)('agent event snapshots with the pre-event buffer and the cap ($label)', ({ broker, mqttVersion }) => {
  let t: TestDevcloud;
  let a: TestAgent;
  let cam: CameraSimulator;
  const stored: S3StoredObject[] = [];
  /** The event records on cloudcam/{thing}/events, as the cloud receives them. */
  const records: Record<string, unknown>[] = [];
  let watcher: MqttClient;
  const fire = (at: Date) => cam.events.fire({ topic: MOTION, at, source: {}, data: { State: '1' } });
  const objectWithKey = (key: string): Promise<S3StoredObject> =>
    new Promise((resolve) => {
      const seen = stored.find((o) => o.key === key);
      if (seen) return resolve(seen);
      const on = (o: S3StoredObject): void => {
        if (o.key !== key) return;
        t.dc.s3.events.off('object', on);
        resolve(o);
      };
      t.dc.s3.events.on('object', on);
    });

  beforeAll(async () => {
    t = await startTestDevcloud({ broker });
    cam = t.dc.cameras.get(thing)!;
    t.dc.s3.events.on('object', (o: S3StoredObject) => stored.push(o));
    watcher = await mqtt.connectAsync(t.dc.info.mqtt.url, {
      ca: await readFile(t.dc.info.caPath),
      cert: await readFile(t.dc.info.cloud.certPath),
      key: await readFile(t.dc.info.cloud.keyPath),
      clientId: 'test-records',
      protocolVersion: 4,
    });
    watcher.on('message', (_topic, payload) => records.push(JSON.parse(payload.toString()) as Record<string, unknown>));
    await watcher.subscribeAsync(`cloudcam/${thing}/events`, { qos: 1 });
    a = await startTestAgent(t.dc, thing, (c) => {
      c.iot.mqttVersion = mqttVersion;
      c.events.capPerMinute = CAP;
      c.events.preBuffer = { frames: 4, fps: 10, maxBytes: 2 * 1024 * 1024, resolution: '320x180' };
      c.events.triggers = [{ name: 'motion', topic: MOTION, when: { State: '1' }, cooldownSeconds: 0 }];
    });
    await a.waitForLog((l) => l['event'] === 'events.grant');
    await a.waitForLog((l) => l['event'] === 'events.stream-up');
    await a.waitForLog((l) => l['event'] === 'events.prebuffer-ready');
  });
  afterAll(async () => {
    await watcher.endAsync();
    await a.stop();
    await t.cleanup();
  });

  it('uploads the buffered frame nearest the event time (.pre.jpg) and the frame captured after it, each with its capture time', async () => {
    const at = new Date();
    const key = `${thing}/events/${at.toISOString().slice(0, 10).replace(/-/g, '/')}/${at.toISOString().replace(/[-:]/g, '').replace('.', '')}-motion`;
    expect(fire(at)).toBe(1);
    const [pre, after] = await Promise.all([objectWithKey(`${key}.pre.jpg`), objectWithKey(`${key}.jpg`)]);
    expect(pre.metadata).toMatchObject({ trigger: 'motion', 'event-time': at.toISOString() });
    expect(after.metadata).toMatchObject({ trigger: 'motion', 'event-time': at.toISOString() });
    const preAt = Date.parse(pre.metadata['frame-time'] ?? '');
    const afterAt = Date.parse(after.metadata['frame-time'] ?? '');
    // Nearest: within one frame period (100 ms at 10 fps) plus a capture's round trip of the event.
    expect(Math.abs(preAt - at.getTime())).toBeLessThan(1000);
    expect(afterAt).toBeGreaterThanOrEqual(at.getTime());
    const [preJpeg, afterJpeg] = await Promise.all([readFile(pre.path), readFile(after.path)]);
    expect((await sharp(preJpeg).metadata()).width).toBe(320); // the buffer's own resolution
    expect((await sharp(afterJpeg).metadata()).width).not.toBe(320);
    await a.waitForLog((l) => l['event'] === 'events.uploaded' && l['key'] === `${key}.jpg`);
    // One QoS 1 record per picture on the thing's events topic, the pre-event frame first.
    await expect.poll(() => records.filter((r) => String(r['key']).startsWith(key)).length, { timeout: 5000 }).toBe(2);
    const mine = records.filter((r) => String(r['key']).startsWith(key));
    expect(mine.map((r) => r['key'])).toEqual([pre.key, after.key]);
    expect(mine[0]).toMatchObject({ trigger: 'motion', topic: MOTION, eventTime: at.toISOString(), frameTime: pre.metadata['frame-time'], bytes: preJpeg.length });
    expect(mine[1]).toMatchObject({ frameTime: after.metadata['frame-time'], bytes: afterJpeg.length });
  });

  it('uploads no more than the cap per minute; the rest is dropped, counted and reported', async () => {
    const base = Date.now();
    const times = [1, 2, 3, 4, 5].map((i) => new Date(base + i));
    const before = stored.length;
    for (const at of times) fire(at);
    // The first test used one of the 3; two more are admitted, three are dropped.
    await a.waitForLog(() => a.logs.filter((l) => l['event'] === 'events.dropped-cap').length === 3);
    const admitted = times.slice(0, CAP - 1).map((at) => `${at.toISOString().replace(/[-:]/g, '').replace('.', '')}-motion.jpg`);
    for (const suffix of admitted) await a.waitForLog((l) => l['event'] === 'events.uploaded' && String(l['key']).endsWith(suffix));
    const mains = stored.slice(before).filter((o) => o.key.endsWith('-motion.jpg'));
    expect(mains.map((o) => o.key.split('/').pop())).toEqual(admitted);
    const url = a.agent.localApiUrl();
    if (!url) throw new Error('no local API');
    const status = (await (await fetch(`${url}/status`)).json()) as { events?: Record<string, number> };
    expect(status.events).toMatchObject({ captured: CAP, droppedCap: 3, queued: 0 });
  });
});
