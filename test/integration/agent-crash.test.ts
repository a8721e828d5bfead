/**
 * The agent killed (SIGKILL: a crash or power cut) while handling a request, and the cloud writing a
 * newer request over it before the agent is back: the restarted agent never sees the old one in
 * desired, yet it must still give it a final status (failed, interrupted) and must not upload it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MQTT_MATRIX, requestSnapshot, startTestDevcloud, waitForReport, type TestDevcloud } from '../helpers/devcloud.js';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process.js';
import type { S3StoredObject } from '../../src/devcloud/s3/server.js';

const thing = 'camera-1';

describe.each(MQTT_MATRIX)('agent killed mid-request ($label)', { timeout: 60_000 }, ({ broker, mqttVersion }) => {
  let t: TestDevcloud;
  const agents: AgentProcess[] = [];
  const stored: S3StoredObject[] = [];
  const start = async (): Promise<AgentProcess> => {
    const agent = await spawnAgent(t.dc.info.devices[thing]!.agentConfigPath, { CLOUDCAM_IOT_MQTT_VERSION: mqttVersion === 5 ? '5' : '3.1.1' });
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
});
