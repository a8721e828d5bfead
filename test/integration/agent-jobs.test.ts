/**
 * The agent's jobs feature against devcloud's Jobs service, on both brokers: a job created while the
 * agent is offline is picked up on reconnect; two jobs run one at a time, in order; a restart job
 * ends SUCCEEDED only after the agent restarted (in-process, and as a process that exits by itself
 * for its supervisor); an unknown operation is REJECTED naming the known ones; a VersionMismatch is
 * settled; a notify-next naming another thing is ignored.
 */
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MQTT_MATRIX, startTestAgent, startTestDevcloud, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import { spawnAgent } from '../helpers/agent-process.js';
import { devcloudJobsAdmin, type JobsAdmin } from '../../src/cloud/jobs-admin.js';
import { jobsTopics } from '../../src/protocol/jobs.js';
import type { S3StoredObject } from '../../src/devcloud/s3/server.js';

const thing = 'camera-1';
let seq = 0;
const jobId = (what: string): string => `${what}-${Date.now().toString(36)}-${(seq += 1)}`;
const logged = (event: string, id: string) => (l: Record<string, unknown>) => l['event'] === event && l['jobId'] === id;

describe.each(MQTT_MATRIX)('agent jobs against devcloud ($label)', { timeout: 60_000 }, ({ broker, mqttVersion }) => {
  let t: TestDevcloud;
  let admin: JobsAdmin;
  const agents: TestAgent[] = [];
  const stored: S3StoredObject[] = [];
  const start = async (): Promise<TestAgent> => {
    const a = await startTestAgent(t.dc, thing, (c) => (c.iot.mqttVersion = mqttVersion));
    agents.push(a);
    return a;
  };
  const execution = async (id: string) => (await admin.describeJob(id)).executions.find((e) => e.thingName === thing);

  beforeAll(async () => {
    t = await startTestDevcloud({ broker });
    admin = await devcloudJobsAdmin(t.dir);
    t.dc.s3.events.on('object', (o: S3StoredObject) => stored.push(o));
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('picks up a job created while it was offline when it reconnects: a diagnostics snapshot lands in S3, SUCCEEDED with its key', async () => {
    const a = await start();
    await a.waitForLog((l) => l['event'] === 'jobs.none-pending'); // connected, nothing pending yet
    await t.dc.stopBroker();
    const id = jobId('diag');
    await admin.createJob({ jobId: id, things: [thing], document: { operation: 'cloudcam.snapshot' } });
    await t.dc.startBroker();
    await a.waitForLog(logged('jobs.succeeded', id), 30_000);
    const e = await execution(id);
    expect(e?.status).toBe('SUCCEEDED');
    const key = e?.statusDetails?.['key'];
    expect(key).toMatch(new RegExp(`^${thing}/events/\\d{4}/\\d{2}/\\d{2}/\\d{8}T\\d{9}Z-diagnostics\\.jpg$`));
    expect(stored.some((o) => o.key === key)).toBe(true);
  });

  it('a diagnostics snapshot on a camera whose clock is three hours ahead still uses its grant (judged by the cloud clock)', async () => {
    const a = await startTestAgent(t.dc, thing, (c) => (c.iot.mqttVersion = mqttVersion), { now: () => new Date(Date.now() + 3 * 3600_000) });
    agents.push(a);
    await a.waitForLog((l) => l['event'] === 'jobs.none-pending');
    const id = jobId('skewed');
    await admin.createJob({ jobId: id, things: [thing], document: { operation: 'cloudcam.snapshot' } });
    await a.waitForLog((l) => (l['event'] === 'jobs.succeeded' || l['event'] === 'jobs.failed') && l['jobId'] === id, 45_000);
    const e = await execution(id);
    expect(e?.status).toBe('SUCCEEDED');
    expect(stored.some((o) => o.key === e?.statusDetails?.['key'])).toBe(true);
  });

  it('runs two jobs one at a time, in order', async () => {
    const camera = t.dc.cameras.get(thing)!;
    const a = await start();
    await a.waitForLog((l) => l['msg'] === 'MQTT connected');
    camera.setFaults({ delayMs: 1500 }); // the first capture takes a while
    const first = jobId('first');
    const second = jobId('second');
    await admin.createJob({ jobId: first, things: [thing], document: { operation: 'cloudcam.snapshot' } });
    await a.waitForLog(logged('jobs.started', first));
    await admin.createJob({ jobId: second, things: [thing], document: { operation: 'cloudcam.snapshot' } });
    expect((await execution(second))?.status).toBe('QUEUED');
    camera.setFaults({});
    await a.waitForLog(logged('jobs.succeeded', second), 30_000);
    const order = a.logs.filter((l) => l['jobId'] === first || l['jobId'] === second).filter((l) => l['event'] === 'jobs.started' || l['event'] === 'jobs.succeeded').map((l) => `${String(l['event'])} ${String(l['jobId'])}`);
    expect(order).toEqual([`jobs.started ${first}`, `jobs.succeeded ${first}`, `jobs.started ${second}`, `jobs.succeeded ${second}`]);
  });

  it('a restart job: the agent stops the clean way, and the next agent reports SUCCEEDED', async () => {
    const a = await start();
    const id = jobId('restart');
    await admin.createJob({ jobId: id, things: [thing], document: { operation: 'cloudcam.restart' } });
    expect(await a.agent.restartRequested).toContain(id);
    expect((await execution(id))?.statusDetails?.['stage']).toBe('restarting');
    await a.stop(); // what runAgentUntilSignal does then
    const b = await start();
    await b.waitForLog(logged('jobs.succeeded', id), 30_000);
    expect(await execution(id)).toMatchObject({ status: 'SUCCEEDED', statusDetails: { stage: 'restarted' } });
  });

  it('a restart job on the agent process: it exits 0 by itself (for its supervisor), the restarted process reports SUCCEEDED', async () => {
    const config = t.dc.info.devices[thing]!.agentConfigPath;
    const env = { CLOUDCAM_IOT_MQTT_VERSION: mqttVersion === 5 ? '5' : '3.1.1' };
    const first = await spawnAgent(config, env);
    const exited = once(first.child, 'exit');
    const id = jobId('restart-proc');
    try {
      await admin.createJob({ jobId: id, things: [thing], document: { operation: 'cloudcam.restart' } });
      await first.waitForLog((l) => l['event'] === 'agent.stopped');
      expect(await exited).toEqual([0, null]);
      expect(first.lines.some((l) => l['event'] === 'agent.restarting')).toBe(true);
    } finally {
      if (first.child.exitCode === null) await first.kill();
    }
    const second = await spawnAgent(config, env);
    try {
      await second.waitForLog(logged('jobs.succeeded', id), 30_000);
      expect((await execution(id))?.status).toBe('SUCCEEDED');
    } finally {
      await second.stop();
    }
  });

  it('rejects an unknown operation with a reason naming the known ones', async () => {
    const a = await start();
    const id = jobId('unknown');
    await admin.createJob({ jobId: id, things: [thing], document: { operation: 'cloudcam.format-disk' } });
    await a.waitForLog(logged('jobs.rejected', id));
    expect(await execution(id)).toMatchObject({
      status: 'REJECTED',
      statusDetails: { reason: 'unknown operation "cloudcam.format-disk"; this agent knows: cloudcam.restart, cloudcam.snapshot, cloudcam.update' },
    });
  });

  it('settles a VersionMismatch: the execution moved on while the operation ran, the final update is retried at the current version', async () => {
    const camera = t.dc.cameras.get(thing)!;
    const a = await start();
    await a.waitForLog((l) => l['msg'] === 'MQTT connected');
    camera.setFaults({ delayMs: 1000 });
    const id = jobId('mismatch');
    await admin.createJob({ jobId: id, things: [thing], document: { operation: 'cloudcam.snapshot' } });
    await a.waitForLog(logged('jobs.started', id));
    // Another writer (a previous process whose reply was lost, say) updates the execution meanwhile.
    t.dc.jobs.update(thing, id, { status: 'IN_PROGRESS', statusDetails: { note: 'written elsewhere' } });
    camera.setFaults({});
    await a.waitForLog(logged('jobs.succeeded', id), 30_000);
    expect((await execution(id))?.status).toBe('SUCCEEDED');
  });

  it('ignores a notify-next on its topic that names another thing', async () => {
    const a = await start();
    await a.waitForLog((l) => l['event'] === 'jobs.none-pending'); // subscribed and asked
    const info = t.dc.info;
    const cloud = await mqtt.connectAsync(info.mqtt.url, { ca: await readFile(info.caPath), cert: await readFile(info.cloud.certPath), key: await readFile(info.cloud.keyPath), clientId: 'test-forger', protocolVersion: 4 });
    try {
      const forged = { jobId: 'forged', thingName: 'camera-2', status: 'QUEUED', versionNumber: 1, executionNumber: 1, queuedAt: 1, lastUpdatedAt: 1, jobDocument: { operation: 'cloudcam.restart' } };
      await cloud.publishAsync(jobsTopics(thing).notifyNext, JSON.stringify({ timestamp: 1, execution: forged }), { qos: 1 });
      const ignored = await a.waitForLog((l) => l['event'] === 'jobs.message-ignored');
      expect(ignored['why']).toContain('camera-2');
      expect(a.logs.some((l) => l['jobId'] === 'forged' && l['event'] === 'jobs.started')).toBe(false);
    } finally {
      await cloud.endAsync();
    }
  });
});

describe.each(MQTT_MATRIX)('agent jobs: an execution timed out by the service while it runs ($label)', { timeout: 60_000 }, ({ broker, mqttVersion }) => {
  let t: TestDevcloud;
  beforeAll(async () => {
    t = await startTestDevcloud({ broker, jobsMinuteMs: 100 }); // a Jobs "minute" of 100 ms
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('stops the operation (its AbortSignal) and never writes over TIMED_OUT', async () => {
    const admin = await devcloudJobsAdmin(t.dir);
    const a = await startTestAgent(t.dc, thing, (c) => {
      c.iot.mqttVersion = mqttVersion;
      c.jobs.stepTimeoutMinutes = 1; // 100 ms here
    });
    try {
      await a.waitForLog((l) => l['event'] === 'jobs.none-pending');
      t.dc.cameras.get(thing)!.setFaults({ delayMs: 5000 });
      const id = jobId('slow');
      await admin.createJob({ jobId: id, things: [thing], document: { operation: 'cloudcam.snapshot' } });
      const cancelled = await a.waitForLog(logged('jobs.cancelled', id));
      expect(cancelled['why']).toContain('TIMED_OUT');
      await a.waitForLog(logged('jobs.ended-elsewhere', id));
      expect((await admin.describeJob(id)).executions[0]?.status).toBe('TIMED_OUT');
    } finally {
      t.dc.cameras.get(thing)!.setFaults({});
      await a.stop();
    }
  });
});
