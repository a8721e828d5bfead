/**
 * The agent killed (SIGKILL: a crash or power cut) with event snapshots queued on disk while the
 * broker was down: the restarted agent uploads every one of them, in order, once each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MQTT_MATRIX, startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process.js';
import type { S3StoredObject } from '../../src/devcloud/s3/server.js';

const thing = 'camera-1';
const MOTION = 'tns1:VideoSource/MotionAlarm';
const TRIGGERS = JSON.stringify([{ name: 'motion', topic: MOTION, when: { State: '1' }, cooldownSeconds: 0 }]);

describe.each(MQTT_MATRIX)('agent killed with a queue on disk ($label)', { timeout: 60_000 }, ({ broker, mqttVersion }) => {
  let t: TestDevcloud;
  const agents: AgentProcess[] = [];
  const stored: S3StoredObject[] = [];
  const start = async (): Promise<AgentProcess> => {
    const agent = await spawnAgent(t.dc.info.devices[thing]!.agentConfigPath, {
      CLOUDCAM_IOT_MQTT_VERSION: mqttVersion === 5 ? '5' : '3.1.1',
      CLOUDCAM_EVENTS_TRIGGERS: TRIGGERS,
    });
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

  it('uploads every queued event after the restart, in order, none twice', async () => {
    const first = await start();
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

    const second = await start();
    await second.waitForLog((l) => l['event'] === 'events.queue-restored' && l['queued'] === 3);
    for (const key of keys) await second.waitForLog((l) => l['event'] === 'events.uploaded' && l['key'] === key);
    expect(stored.map((o) => o.key).filter((k) => keys.includes(k))).toEqual(keys);
  });
});
