/**
 * Event snapshots end to end (issue 13), on both brokers: the camera simulator fires a VAPIX event on
 * its WebSocket stream, the real agent captures and uploads it at once with the standing grant, and
 * publishes the event record; no snapshot request per event; cooldown; offline events queued on disk
 * and delivered after reconnect, none twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MQTT_MATRIX, startTestAgent, startTestDevcloud, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import type { S3StoredObject } from '../../src/devcloud/s3/server.js';
import type { HandleResult } from '../../src/cloud/handler.js';
import type { CameraSimulator } from '../../src/devcloud/camera/simulator.js';
import { parseUploadGrant } from '../../src/protocol/upload-grant.js';

const thing = 'camera-1';
const MOTION = 'tns1:VideoSource/MotionAlarm';

describe.each(MQTT_MATRIX)('agent event snapshots ($label)', ({ broker, mqttVersion }) => {
  let t: TestDevcloud;
  let a: TestAgent;
  let cam: CameraSimulator;
  const stored: S3StoredObject[] = [];
  const handled: HandleResult[] = [];

  /** The next stored object whose key ends so (requested snapshots land beside them). */
  const nextObject = (suffix: string): Promise<S3StoredObject> =>
    new Promise((resolve) => {
      const on = (o: S3StoredObject): void => {
        if (!o.key.endsWith(suffix)) return;
        t.dc.s3.events.off('object', on);
        resolve(o);
      };
      t.dc.s3.events.on('object', on);
    });
  const fire = (at: Date, state = '1') => cam.events.fire({ topic: MOTION, at, source: { VideoSourceConfigurationToken: '0' }, data: { State: state } });

  beforeAll(async () => {
    t = await startTestDevcloud({ broker });
    cam = t.dc.cameras.get(thing)!;
    t.dc.s3.events.on('object', (o: S3StoredObject) => stored.push(o));
    t.dc.rules.on('handled', (r) => handled.push(r));
    a = await startTestAgent(t.dc, thing, (c) => {
      c.iot.mqttVersion = mqttVersion;
      c.events.queue.maxCount = 3;
      c.events.triggers = [{ name: 'motion', topic: MOTION, when: { State: '1' }, cooldownSeconds: 0 }, { name: 'slow', topic: 'tns1:Device/tnsaxis:IO/Port', cooldownSeconds: 3600 }];
    });
    await a.waitForLog((l) => l['event'] === 'events.grant');
    // The handler reports its result after the shadow write that the agent may already have seen.
    await new Promise<void>((resolve) => (handled.some((r) => r.action === 'granted') ? resolve() : t.dc.rules.on('handled', (r) => r.action === 'granted' && resolve())));
    await a.waitForLog((l) => l['event'] === 'events.stream-up');
  });
  afterAll(async () => {
    await a.stop();
    await t.cleanup();
  });

  it('uploads an event under {thing}/events/ with its metadata at once, with no snapshot request', async () => {
    const before = handled.length;
    const obj = nextObject('-motion.jpg');
    const at = new Date('2026-12-01T05:00:00.250Z');
    expect(fire(at)).toBe(1);
    const o = await obj;
    expect(o.key).toBe(`${thing}/events/2026/12/01/20261201T050000250Z-motion.jpg`);
    expect(o.metadata).toMatchObject({ trigger: 'motion', 'event-topic': MOTION, 'event-time': at.toISOString() });
    expect(Date.parse(o.metadata['frame-time'] ?? '')).toBeGreaterThan(0); // when the picture was taken (the agent's clock)
    expect(o.contentType).toBe('image/jpeg');
    await a.waitForLog((l) => l['event'] === 'events.uploaded' && l['key'] === o.key);
    expect(handled.slice(before)).toEqual([]); // no cloud round trip for the event
    // A motion "ended" event matches no trigger.
    expect(fire(new Date('2026-12-01T05:00:01.000Z'), '0')).toBe(1);
  });

  it('drops a trigger within its cooldown and counts it', async () => {
    const port = (at: string) => cam.events.fire({ topic: 'tns1:Device/tnsaxis:IO/Port', at: new Date(at), source: { port: '1' }, data: { state: '1' } });
    const obj = nextObject('-slow.jpg');
    port('2026-12-01T05:01:00.000Z');
    const slow = await obj;
    expect(slow.key).toMatch(/-slow\.jpg$/);
    await a.waitForLog((l) => l['event'] === 'events.uploaded' && l['key'] === slow.key);
    port('2026-12-01T05:01:01.000Z');
    await a.waitForLog((l) => l['event'] === 'events.dropped-cooldown');
  });

  it('takes an event fired through the control API; refuses a hostile one there (400) and on the stream (no upload, no crash)', async () => {
    const control = (body: unknown) =>
      fetch(`${t.dc.info.control.url}/cameras/${thing}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const obj = nextObject('-motion.jpg');
    const ok = await control({ topic: MOTION, data: { State: '1' } });
    expect(await ok.json()).toEqual({ sessions: 1 });
    const o = await obj;
    expect(o.metadata['trigger']).toBe('motion');
    await a.waitForLog((l) => l['event'] === 'events.uploaded' && l['key'] === o.key);
    // Free text in items is kept (issue 19); what triggers act on, the topic, must be plain.
    for (const bad of [{ topic: 5 }, { topic: 'x'.repeat(300) }, { topic: 'tns1:a\nb' }, { topic: MOTION, data: [] }]) {
      expect((await control(bad)).status).toBe(400);
    }
    const before = stored.length;
    const invalid = a.logs.filter((l) => l['event'] === 'events.invalid-message').length;
    // Straight onto the stream, past the control API's checks: data that is not an object of items.
    cam.events.fire({ topic: MOTION, at: new Date(), source: {}, data: ['1'] as unknown as Record<string, string> });
    await a.waitForLog((l) => l['event'] === 'events.invalid-message' && a.logs.filter((x) => x['event'] === 'events.invalid-message').length > invalid);
    expect(stored.length).toBe(before);
  });

  it('reconnects the stream after the camera drops it and uploads again', async () => {
    const ups = a.logs.filter((l) => l['event'] === 'events.stream-up').length;
    // Motion ends first: the camera reports its state after the reconnect, and only a change is an event.
    fire(new Date('2026-12-01T05:02:59.000Z'), '0');
    cam.events.dropAll();
    await a.waitForLog((l) => l['event'] === 'events.stream-down');
    await a.waitForLog(() => a.logs.filter((l) => l['event'] === 'events.stream-up').length > ups, 15_000);
    const obj = nextObject('-motion.jpg');
    fire(new Date('2026-12-01T05:03:00.000Z'));
    const { key } = await obj;
    expect(key).toBe(`${thing}/events/2026/12/01/20261201T050300000Z-motion.jpg`);
    await a.waitForLog((l) => l['event'] === 'events.uploaded' && l['key'] === key);
  });

  it('renews a grant S3 refuses (here: a forged one) and uploads the event with the new grant', async () => {
    const parsed = parseUploadGrant(t.dc.store.get({ thing, shadow: t.dc.info.shadowName }).state.desired?.['uploadGrant'], thing);
    if (!parsed.ok) throw new Error(parsed.error);
    const real = parsed.value;
    const forged = { ...real, expiresAt: new Date(Date.parse(real.expiresAt) + 3600_000).toISOString(), fields: { ...real.fields, 'X-Amz-Signature': '0'.repeat(64) } };
    t.dc.store.update({ thing, shadow: t.dc.info.shadowName }, JSON.stringify({ state: { desired: { uploadGrant: forged } } }));
    await a.waitForLog((l) => l['event'] === 'events.grant' && l['expiresAt'] === forged.expiresAt);
    const granted = new Promise<void>((resolve) => t.dc.rules.on('handled', (r) => r.action === 'granted' && resolve()));
    const obj = nextObject('-motion.jpg');
    fire(new Date('2026-12-01T05:04:00.000Z'));
    const refused = await a.waitForLog((l) => l['event'] === 'events.upload-failed');
    expect(String(refused['err'])).toContain('SignatureDoesNotMatch');
    await granted;
    const o = await obj;
    expect(o.key).toBe(`${thing}/events/2026/12/01/20261201T050400000Z-motion.jpg`);
    await a.waitForLog((l) => l['event'] === 'events.uploaded' && l['key'] === o.key);
  });

  it('queues events while the broker is down and uploads them in order after reconnect, none twice; overflow drops the oldest, counted', async () => {
    await t.dc.stopBroker();
    const times = ['05:02:00.000', '05:02:00.500', '05:02:01.000', '05:02:01.500'];
    const [oldest, ...keys] = times.map((hms) => `${thing}/events/2026/12/01/20261201T${hms.replace(/[:.]/g, '')}Z-motion.jpg`);
    for (const hms of times) fire(new Date(`2026-12-01T${hms}Z`));
    // events.queue.maxCount is 3: the fourth event pushes the oldest out.
    const drop = await a.waitForLog((l) => l['event'] === 'events.queue-dropped');
    expect(drop).toMatchObject({ key: oldest, dropped: 1 });
    // The stream is the camera's, not the broker's: captured and queued while offline.
    for (const key of keys) await a.waitForLog((l) => l['event'] === 'events.queued' && l['key'] === key);
    expect(stored.filter((o) => keys.includes(o.key))).toEqual([]);
    await t.dc.startBroker();
    for (const key of keys) await a.waitForLog((l) => l['event'] === 'events.uploaded' && l['key'] === key, 20_000);
    const order = stored.map((o) => o.key).filter((k) => keys.includes(k) || k === oldest);
    expect(order).toEqual(keys);
  });

  it('reports its counters in the local API status: uploaded, dropped by cooldown and by a full queue', async () => {
    const url = a.agent.localApiUrl();
    if (!url) throw new Error('no local API');
    const status = (await (await fetch(`${url}/status`)).json()) as { events?: Record<string, number> };
    expect(status.events).toMatchObject({ droppedCooldown: 1, droppedCap: 0, droppedQueue: 1, queued: 0 });
    expect(status.events?.['uploaded']).toBeGreaterThanOrEqual(8);
  });
});
