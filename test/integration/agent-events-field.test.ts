/**
 * Event snapshots against a camera that behaves as real Axis cameras do (issue 19), end to end with
 * the real agent, devcloud's S3 and the camera simulator:
 * - one notification per matching topic filter (recordings of AXIS OS 10-12 cameras): overlapping
 *   triggers fire once each;
 * - the state of property events reported right after events:configure (Axis, "Event data
 *   streaming", stateful events: developer.axis.com/vapix/network-video/event-data-streaming):
 *   motion going on across a reconnect is not a new event, motion starting after it is;
 * - free-text items (an operator's profile name in Japanese or Swedish) reach S3 metadata RFC
 *   2047-encoded (S3 user guide, "Working with object metadata");
 * - `timestamp` missing (Axis documents it as optional on
 *   developer.axis.com/vapix/network-video/event-streaming-over-websocket) or from a clock never set
 *   (1970): uploaded with `x-amz-meta-event-time-source: agent`, one warning naming the NTP fix;
 * - every firmware profile (src/devcloud/camera/profiles.ts), one camera each: camera-1 is AXIS OS 12
 *   (the suite above), an event on AXIS OS 11 (Digest MD5 only, `stale=true` on a reused nonce) reaches
 *   S3 the same way, and AXIS OS 10 — firmware without `event-streaming-over-websocket` in API
 *   discovery (developer.axis.com/vapix/network-video/api-discovery-service) — gets
 *   `unsupported by this firmware` in /status and the shadow, and no retry loop.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, startTestDevcloud, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import type { S3StoredObject } from '../../src/devcloud/s3/server.js';
import type { CameraSimulator } from '../../src/devcloud/camera/simulator.js';
import type { AgentStatus } from '../../src/agent/features/local-api.js';
import { decodeMetaValue } from '../../src/protocol/s3-metadata.js';

const MOTION = 'tns1:VideoSource/MotionAlarm';
const PORT = 'tns1:Device/tnsaxis:IO/Port';
const VMD = 'tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile1';
const VIRTUAL = 'tns1:Device/tnsaxis:IO/VirtualInput';

describe('agent event snapshots with a camera as in the field', () => {
  let t: TestDevcloud;
  let a: TestAgent;
  let cam: CameraSimulator;
  const stored: S3StoredObject[] = [];
  const storedFor = (trigger: string) => stored.filter((o) => o.key.endsWith(`-${trigger}.jpg`));
  const uploaded = (trigger: string, n: number) => a.waitForLog(() => a.logs.filter((l) => l['event'] === 'events.uploaded' && l['trigger'] === trigger).length >= n, 20_000);
  const streamUps = () => a.logs.filter((l) => l['event'] === 'events.stream-up').length;

  beforeAll(async () => {
    t = await startTestDevcloud({ broker: 'aedes', cameras: 3, cameraProfiles: ['axis-os-12', 'axis-os-11', 'axis-os-10'] });
    cam = t.dc.cameras.get('camera-1')!;
    t.dc.s3.events.on('object', (o: S3StoredObject) => stored.push(o));
    // Already active before the agent subscribes: the camera reports it right after configure.
    cam.events.fire({ topic: VIRTUAL, at: new Date('2026-12-07T07:00:00.000Z'), source: { port: '9' }, data: { active: '1' } });
    a = await startTestAgent(t.dc, 'camera-1', (c) => {
      c.events.capPerMinute = 1000;
      c.events.triggers = [
        { name: 'motion', topic: MOTION, when: { State: '1' }, cooldownSeconds: 0 },
        { name: 'io-all', topic: 'tns1:Device/tnsaxis:IO//.', when: { state: '1' }, cooldownSeconds: 0 },
        { name: 'io-port', topic: PORT, when: { state: '1' }, cooldownSeconds: 0 },
        { name: 'vmd', topic: 'tnsaxis:CameraApplicationPlatform/VMD//', when: { active: '1' }, cooldownSeconds: 0 },
        { name: 'virtual', topic: VIRTUAL, when: { active: '1' }, cooldownSeconds: 0, onInitialState: true },
      ];
    });
    await a.waitForLog((l) => l['event'] === 'events.grant');
    await a.waitForLog((l) => l['event'] === 'events.stream-up');
  });
  afterAll(async () => {
    await a.stop();
    await t.cleanup();
  });

  it('fires a trigger with onInitialState on the state reported at subscription, and no other trigger', async () => {
    await uploaded('virtual', 1);
    expect(storedFor('virtual')).toHaveLength(1);
    expect(a.logs.some((l) => l['event'] === 'events.state-report' && l['topic'] === MOTION && l['occurrence'] === 'initial-state')).toBe(true);
    expect(storedFor('motion')).toEqual([]);
  });

  it('fires each of two overlapping triggers once for one input change, although the camera sends two copies', async () => {
    const change = (hms: string, state: string) => cam.events.fire({ topic: PORT, at: new Date(`2026-12-07T${hms}.000Z`), source: { port: '1' }, data: { state } });
    // Two of the agent's filters pass the port topic: the camera sends each notification twice.
    expect(change('08:00:00', '1')).toBe(1);
    change('08:00:01', '0');
    change('08:00:02', '1');
    // The queue uploads in order: once the second change's pictures are up, so is all before them.
    await uploaded('io-all', 2);
    await uploaded('io-port', 2);
    await a.waitForLog(() => a.logs.filter((l) => l['event'] === 'events.uploaded' && String(l['key']).includes('20261207T080002000Z')).length === 2);
    const day = 'camera-1/events/2026/12/07';
    expect(storedFor('io-all').map((o) => o.key)).toEqual([`${day}/20261207T080000000Z-io-all.jpg`, `${day}/20261207T080002000Z-io-all.jpg`]);
    expect(storedFor('io-port').map((o) => o.key)).toEqual([`${day}/20261207T080000000Z-io-port.jpg`, `${day}/20261207T080002000Z-io-port.jpg`]);
    change('08:00:03', '0');
  });

  it('does not take motion going on across a reconnect for a new event; motion that starts after it is one', async () => {
    cam.events.fire({ topic: MOTION, at: new Date('2026-12-07T08:01:00.000Z'), source: {}, data: { State: '1' } });
    await uploaded('motion', 1);
    const ups = streamUps();
    cam.events.dropAll();
    await a.waitForLog(() => streamUps() > ups, 20_000);
    // The camera reports motion still on; the agent records it and fires nothing.
    await a.waitForLog((l) => l['event'] === 'events.state-report' && l['topic'] === MOTION && l['occurrence'] === 'unchanged-state');
    cam.events.fire({ topic: MOTION, at: new Date('2026-12-07T08:02:00.000Z'), source: {}, data: { State: '0' } });
    cam.events.fire({ topic: MOTION, at: new Date('2026-12-07T08:03:00.000Z'), source: {}, data: { State: '1' } });
    await uploaded('motion', 2);
    // The reported virtual input was known already: onInitialState does not fire it again.
    expect(storedFor('virtual')).toHaveLength(1);
    expect(storedFor('motion').map((o) => o.key)).toEqual([
      'camera-1/events/2026/12/07/20261207T080100000Z-motion.jpg',
      'camera-1/events/2026/12/07/20261207T080300000Z-motion.jpg',
    ]);
  });

  it('uploads events whose profile names are Japanese and Swedish, the names RFC 2047-encoded in the metadata', async () => {
    const names = ['玄関の動き検知', 'Rörelse vid grinden – Åby'];
    for (const [i, name] of names.entries()) {
      cam.events.fire({ topic: VMD, at: new Date(`2026-12-07T08:1${i}:00.000Z`), source: {}, data: { active: '1', ProfileName: name } });
      cam.events.fire({ topic: VMD, at: new Date(`2026-12-07T08:1${i}:05.000Z`), source: {}, data: { active: '0', ProfileName: name } });
    }
    await uploaded('vmd', 2);
    const objects = storedFor('vmd');
    expect(objects).toHaveLength(2);
    for (const [i, o] of objects.entries()) {
      expect(o.metadata['event-data']).toMatch(/^=\?UTF-8\?B\?[\x20-\x7e]+$/);
      expect(JSON.parse(decodeMetaValue(o.metadata['event-data'] ?? ''))).toEqual({ active: '1', ProfileName: names[i] });
      expect(o.metadata['event-topic']).toBe(VMD);
      expect(o.metadata['event-time-source']).toBe('camera');
    }
  });

  it('uploads a notification without timestamp and one from a camera clock never set with the receive time, event-time-source agent, and warns once', async () => {
    const before = Date.now();
    cam.events.options.timestamps = false;
    cam.events.fire({ topic: MOTION, source: {}, data: { State: '0' } });
    cam.events.fire({ topic: MOTION, source: {}, data: { State: '1' } });
    await uploaded('motion', 3);
    cam.events.options.timestamps = true;
    cam.setClockOffset(-(Date.now() - 3_600_000)); // the camera thinks it is 1970-01-01T01:00
    try {
      for (const State of ['0', '1', '0', '1']) cam.events.fire({ topic: MOTION, source: {}, data: { State } });
      await uploaded('motion', 5);
    } finally {
      cam.setClockOffset(0);
    }
    const recent = storedFor('motion').slice(2);
    expect(recent).toHaveLength(3);
    for (const o of recent) {
      expect(o.metadata['event-time-source']).toBe('agent');
      expect(Date.parse(o.metadata['event-time'] ?? '')).toBeGreaterThanOrEqual(before - 1000);
    }
    const warnings = a.logs.filter((l) => l['event'] === 'events.time-fallback');
    expect(warnings.map((l) => l['why']).sort()).toEqual(['clock-not-set', 'missing']);
    expect(String(warnings.find((l) => l['why'] === 'clock-not-set')?.['msg'])).toMatch(/NTP/);
  });

  it('uploads an event of an AXIS OS 11 camera (Digest MD5 only, stale=true on a reused nonce) to S3', async () => {
    const os11 = t.dc.cameras.get('camera-2')!;
    expect(os11.profile).toBe('axis-os-11');
    const b = await startTestAgent(t.dc, 'camera-2', (c) => {
      c.events.triggers = [{ name: 'motion', topic: MOTION, when: { State: '1' }, cooldownSeconds: 0 }];
    });
    try {
      await b.waitForLog((l) => l['event'] === 'events.stream-up');
      os11.events.fire({ topic: MOTION, at: new Date('2026-12-07T09:00:00.000Z'), source: {}, data: { State: '1' } });
      await b.waitForLog((l) => l['event'] === 'events.uploaded' && l['trigger'] === 'motion', 20_000);
      const key = 'camera-2/events/2026/12/07/20261207T090000000Z-motion.jpg';
      const object = stored.find((o) => o.key === key);
      expect(object?.metadata['event-topic']).toBe(MOTION);
      expect((await readFile(object!.path)).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    } finally {
      await b.stop();
    }
  });

  it('reports AXIS OS 10 firmware (no event streaming) as unsupported in /status and the shadow, and does not retry', async () => {
    const old = t.dc.cameras.get('camera-3')!;
    expect(old.profile).toBe('axis-os-10');
    const b = await startTestAgent(t.dc, 'camera-3', (c) => {
      c.events.triggers = [{ name: 'motion', topic: MOTION, when: { State: '1' }, cooldownSeconds: 0 }];
    });
    try {
      await b.waitForLog((l) => l['event'] === 'events.unsupported');
      const upgrades = old.events.upgrades;
      const status = (await (await fetch(`${b.agent.localApiUrl()!}/status`)).json()) as AgentStatus;
      expect(status.events?.state).toBe('unsupported by this firmware');
      await expect.poll(() => (t.dc.store.get({ thing: 'camera-3', shadow: t.dc.info.shadowName }).state.reported as { events?: { state?: string } } | undefined)?.events?.state, { timeout: 10_000 }).toBe('unsupported by this firmware');
      // Today's main retried the 404 with backoff from 0.5 s: over 2 s it would have tried again.
      await new Promise((r) => setTimeout(r, 2000));
      expect(old.events.upgrades - upgrades).toBe(0);
      expect(old.events.upgrades).toBe(0); // discovery said no: the stream was never tried
      expect(b.logs.filter((l) => l['event'] === 'events.unsupported')).toHaveLength(1);
      expect(b.logs.filter((l) => l['event'] === 'events.stream-down')).toEqual([]);
    } finally {
      await b.stop();
    }
  });
});
