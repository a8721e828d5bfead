/**
 * The upload grant and time, end to end on both brokers: the agent judges a grant's expiry by the
 * cloud's clock (estimated from the shadow's message timestamps), so a device clock hours off neither
 * wastes a good grant nor uses a dead one; and a grant that expires while the agent runs is renewed
 * before the next upload, never used after its expiry.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MQTT_MATRIX, startTestAgent, startTestDevcloud, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import type { HandleResult } from '../../src/cloud/handler.js';
import type { CameraSimulator } from '../../src/devcloud/camera/simulator.js';
import { parseUploadGrant, type UploadGrant } from '../../src/protocol/upload-grant.js';
import type { S3RequestEvent } from '../../src/devcloud/s3/server.js';

const thing = 'camera-1';
const MOTION = 'tns1:VideoSource/MotionAlarm';
const HOUR = 3600_000;

describe.each(MQTT_MATRIX)('agent upload grant and time ($label)', ({ broker, mqttVersion }) => {
  let t: TestDevcloud;
  let a: TestAgent;
  let cam: CameraSimulator;
  /** How far the agent's device clock is ahead of real time. */
  let skewMs = 2 * HOUR;
  const fire = (at: Date) => cam.events.fire({ topic: MOTION, at, source: {}, data: { State: '1' } });
  const currentGrant = (): UploadGrant => {
    const parsed = parseUploadGrant(t.dc.store.get({ thing, shadow: t.dc.info.shadowName }).state.desired?.['uploadGrant'], thing);
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.value;
  };
  const nextGrant = (): Promise<UploadGrant> =>
    new Promise((resolve) => {
      const on = (r: HandleResult): void => {
        if (r.action !== 'granted') return;
        t.dc.rules.off('handled', on);
        resolve(r.grant);
      };
      t.dc.rules.on('handled', on);
    });
  const uploaded = (key: string) => a.waitForLog((l) => l['event'] === 'events.uploaded' && String(l['key']).endsWith(key), 20_000);

  const start = () =>
    startTestAgent(
      t.dc,
      thing,
      (c) => {
        c.iot.mqttVersion = mqttVersion;
        c.events.triggers = [{ name: 'motion', topic: MOTION, when: { State: '1' }, cooldownSeconds: 0 }];
      },
      { now: () => new Date(Date.now() + skewMs) },
    );

  beforeAll(async () => {
    t = await startTestDevcloud({ broker });
    cam = t.dc.cameras.get(thing)!;
    const granted = nextGrant();
    a = await start();
    await granted;
    await a.waitForLog((l) => l['event'] === 'events.grant');
    await a.waitForLog((l) => l['event'] === 'events.stream-up');
    // Quiet from here: the snapshot asked for on connect is reported (its shadow replies received).
    // Every shadow message re-estimates the cloud clock, so one arriving late would undo a clock move.
    await a.waitForLog((l) => l['event'] === 'snapshot.uploaded');
  });
  afterAll(async () => {
    await a.stop();
    await t.cleanup();
  });

  it('uses a valid grant at once although the device clock is two hours ahead (the cloud\'s clock judges it)', async () => {
    const grant = currentGrant();
    fire(new Date('2026-12-01T06:00:00.000Z'));
    const line = await uploaded('20261201T060000000Z-motion.jpg');
    expect(line['grantExpiresAt']).toBe(grant.expiresAt);
  });

  it('never uses a grant that expired while it ran: renews it first, then uploads with the new one', async () => {
    const old = currentGrant();
    const failedBefore = a.logs.filter((l) => l['event'] === 'events.upload-failed').length;
    // An hour passes for the agent: its clock moves to 5 s past the grant's expiry (the cloud's own
    // clock, and so the S3 stand-in, would still take the old grant: only the agent can refuse it).
    skewMs += Date.parse(old.expiresAt) - Date.now() + 5000 - skewMs + 2 * HOUR;
    const renewed = nextGrant();
    fire(new Date('2026-12-01T06:01:00.000Z'));
    const fresh = await renewed;
    const line = await uploaded('20261201T060100000Z-motion.jpg');
    expect(fresh.expiresAt).not.toBe(old.expiresAt);
    expect(line['grantExpiresAt']).toBe(fresh.expiresAt);
    expect(a.logs.filter((l) => l['event'] === 'events.upload-failed').length).toBe(failedBefore);
  });

  it('refuses, before sending anything, a queued entry whose key is outside the grant\'s prefix (a tampered queue file)', async () => {
    const queueDir = path.join(a.config.stateDir, 'event-queue');
    await a.stop();
    const outside = `${thing}/2026/12/01/20261201T060200000Z-motion.jpg`; // the requested snapshots' folder
    await mkdir(queueDir, { recursive: true });
    await writeFile(path.join(queueDir, '900.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
    await writeFile(path.join(queueDir, '900.json'), JSON.stringify({ seq: 900, key: outside, trigger: 'motion', topic: MOTION, eventTime: '2026-12-01T06:02:00.000Z', bytes: 4 }));
    const requests: S3RequestEvent[] = [];
    t.dc.s3.events.on('request', (r: S3RequestEvent) => requests.push(r));
    a = await start();
    const refused = await a.waitForLog((l) => l['event'] === 'events.upload-failed' && l['key'] === outside);
    expect(String(refused['err'])).toContain("outside the grant's prefix");
    expect(requests.filter((r) => r.method === 'POST')).toEqual([]);
    // The queue drains in order: once a later event is uploaded, the refused entry is gone for good.
    await a.waitForLog((l) => l['event'] === 'events.stream-up');
    fire(new Date('2026-12-01T06:03:00.000Z'));
    await uploaded('20261201T060300000Z-motion.jpg');
    expect(await readdir(queueDir)).toEqual([]);
  });
});
