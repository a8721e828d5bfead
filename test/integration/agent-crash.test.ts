/**
 * The agent killed (SIGKILL: a crash or power cut) while handling a request, and the cloud writing a
 * newer request over it before the agent is back: the restarted agent never sees the old one in
 * desired, yet it must still give it a final status (failed, interrupted) and must not upload it.
 * And killed with event snapshots queued on disk while the broker was down: the restarted agent
 * uploads every one of them, in order, once each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MQTT_MATRIX, requestSnapshot, startTestDevcloud, waitForReport, type TestDevcloud } from '../helpers/devcloud.js';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process.js';
import type { S3StoredObject } from '../../src/devcloud/s3/server.js';

const thing = 'camera-1';
const MOTION = 'tns1:VideoSource/MotionAlarm';
const TRIGGERS = JSON.stringify([{ name: 'motion', topic: MOTION, when: { State: '1' }, cooldownSeconds: 0 }]);

describe.each(MQTT_MATRIX)('agent killed mid-request ($label)', { timeout: 60_000 }, ({ broker, mqttVersion }) => {
  let t: TestDevcloud;
  const agents: AgentProcess[] = [];
  const stored: S3StoredObject[] = [];
  const start = async (env: Record<string, string> = {}): Promise<AgentProcess> => {
    const agent = await spawnAgent(t.dc.info.devices[thing]!.agentConfigPath, { CLOUDCAM_IOT_MQTT_VERSION: mqttVersion === 5 ? '5' : '3.1.1', ...env });
    agents.push(agent);
    return agent;
  };

  beforeAll(async () => {
    t = await startTestDevcloud({ broker });
    t.dc.s3.events.on('object', (o: S3StoredObject) => stored.push(o));
  });
  afterAll(async () => {
    for (const a of agents) if (a.child.exitCode === null) await a.stop();
    await t.cleanup();
  });

  it('reports the killed request failed (interrupted) after a restart, uploads it never, and serves the newer one', async () => {
    const online = new Promise<string>((resolve) => t.dc.rules.once('handled', (r) => r.action === 'requested' && resolve(r.request.id)));
    const first = await start();
    await waitForReport(t.dc, thing, await online); // the request made when it came online: idle now

    const camera = t.dc.cameras.get(thing)!;
    camera.setFaults({ delayMs: 30_000 });
    const crashed = await requestSnapshot(t.dc, thing);
    await first.waitForLog((l) => l['event'] === 'snapshot.capturing' && l['id'] === crashed.id);
    await first.kill();
    camera.setFaults({});
    const newer = await requestSnapshot(t.dc, thing); // replaces it in desired while the agent is down

    const reports = [waitForReport(t.dc, thing, crashed.id), waitForReport(t.dc, thing, newer.id)];
    await start();
    const [rCrashed, rNewer] = await Promise.all(reports);
    expect(rCrashed).toMatchObject({ id: crashed.id, status: 'failed', bytes: 0, key: crashed.fields['key'] });
    expect(rCrashed?.error).toContain('interrupted');
    expect(rNewer).toMatchObject({ id: newer.id, status: 'uploaded' });
    expect(stored.filter((o) => o.key === crashed.fields['key'])).toHaveLength(0);
  });

  it('uploads every queued event after the restart, in order, none twice', async () => {
    for (const a of agents) if (a.child.exitCode === null) await a.stop();
    const first = await start({ CLOUDCAM_EVENTS_TRIGGERS: TRIGGERS });
    await first.waitForLog((l) => l['event'] === 'events.grant');
    await first.waitForLog((l) => l['event'] === 'events.stream-up');
    await t.dc.stopBroker();
    const times = ['05:10:00.000', '05:10:00.100', '05:10:00.200'];
    const keys = times.map((hms) => `${thing}/events/2026/12/01/20261201T${hms.replace(/[:.]/g, '')}Z-motion.jpg`);
    const cam = t.dc.cameras.get(thing)!;
    for (const hms of times) cam.events.fire({ topic: MOTION, at: new Date(`2026-12-01T${hms}Z`), source: {}, data: { State: '1' } });
    for (const key of keys) await first.waitForLog((l) => l['event'] === 'events.queued' && l['key'] === key);
    await first.kill();
    await t.dc.startBroker();

    const second = await start({ CLOUDCAM_EVENTS_TRIGGERS: TRIGGERS });
    await second.waitForLog((l) => l['event'] === 'events.queue-restored' && l['queued'] === 3);
    for (const key of keys) await second.waitForLog((l) => l['event'] === 'events.uploaded' && l['key'] === key);
    expect(stored.map((o) => o.key).filter((k) => keys.includes(k))).toEqual(keys);
  });
});
