/**
 * Issue 11, defect 4: a holder of the fleet's claim certificate (it ships in every package) and a
 * serial (printed on the label) must not be able to take an enrolled camera's identity. Reproduced as
 * an attacker would: a second real agent with the claim config and the same serial. Then the
 * operator's way out, through the CLI's code path: `cloudcam fleet allow-reenrol` lets exactly one
 * re-enrolment through, after which the old certificate cannot connect; a further one is refused again.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentLogger } from '../../src/agent/logging.js';
import { IDENTITY_DIR, loadAgentConfig, type AgentConfig } from '../../src/agent/config/index.js';
import { startAgent } from '../../src/agent/main.js';
import { ensureIdentity } from '../../src/agent/provisioning/provisioning.js';
import { VapixClient } from '../../src/protocol/vapix/client.js';
import { allowReenrolCommand } from '../../src/cli/fleet-command.js';
import { UsageError } from '../../src/cli/command.js';
import { MQTT_MATRIX, requestSnapshot, startTestAgent, startTestDevcloud, waitForConnected, waitForReport, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';

/** The claim camera's config, with a state dir of its own: another device that has no identity yet. */
function asAnotherDevice(stateDir: string, mqttVersion: 4 | 5) {
  return (c: AgentConfig): void => {
    c.stateDir = stateDir;
    c.iot.certPath = path.join(stateDir, IDENTITY_DIR, 'device.crt');
    c.iot.keyPath = path.join(stateDir, IDENTITY_DIR, 'device.key');
    c.iot.mqttVersion = mqttVersion;
    c.iot.reconnect = { minMs: 20, maxMs: 100 };
  };
}

/**
 * Runs the real agent with the claim config until its enrolment has been refused once, then stops it.
 * Returns the log line of that refusal.
 */
async function refusedEnrolment(t: TestDevcloud, mqttVersion: 4 | 5): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-takeover-'));
  const config = loadAgentConfig(t.dc.info.claimCameras['claim-1']!.agentConfigPath, {});
  asAnotherDevice(dir, mqttVersion)(config);
  const out = new PassThrough();
  const stop = new AbortController();
  const refusal = new Promise<Record<string, unknown>>((resolve) => {
    out.on('data', (chunk: Buffer) => {
      for (const text of chunk.toString().split('\n').filter(Boolean)) {
        const line = JSON.parse(text) as Record<string, unknown>;
        if (line['event'] === 'provisioning.failed') resolve(line);
      }
    });
  });
  const running = startAgent(config, { log: createAgentLogger({ level: 'debug', format: 'json', thing: 'attacker', out }), signal: stop.signal, provisioningReplyTimeoutMs: 5000 });
  try {
    return await refusal;
  } finally {
    stop.abort(new Error('test stop'));
    await running.then((a) => a.stop()).catch(() => undefined);
    await expect(stat(config.iot.certPath)).rejects.toThrow(/ENOENT/); // no identity was stored
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * One connection attempt: 'connected', or what ended it (a TLS alert, a refused CONNACK, a close).
 * TLS 1.2, so that a refused client certificate fails the handshake itself with the server's alert
 * (in TLS 1.3 the client finishes first and only sees the connection close).
 */
/** The agent's enrolment step alone (ensureIdentity, as startAgent runs it): enrols and stores the identity. */
async function enrolOnly(t: TestDevcloud, stateDir: string, mqttVersion: 4 | 5): Promise<string> {
  const config = loadAgentConfig(t.dc.info.claimCameras['claim-1']!.agentConfigPath, {});
  asAnotherDevice(stateDir, mqttVersion)(config);
  const camera = new VapixClient({ baseUrl: config.camera.url, username: config.camera.username, password: config.camera.password, timeoutMs: 5000 });
  const log = createAgentLogger({ level: 'error', format: 'json', thing: 'reenrolling', out: new PassThrough() });
  return (await ensureIdentity(config, { log, camera, replyTimeoutMs: 5000 })).thingName;
}

async function connectWith(t: TestDevcloud, certPath: string, keyPath: string, clientId: string, protocolVersion: 4 | 5): Promise<string> {
  const [ca, cert, key] = await Promise.all([readFile(t.dc.info.caPath), readFile(certPath), readFile(keyPath)]);
  const tlsOnly: Pick<ConnectionOptions, 'maxVersion'> = { maxVersion: 'TLSv1.2' }; // passed through to tls.connect
  const client = mqtt.connect(t.dc.info.mqtt.url, { ...tlsOnly, ca, cert, key, rejectUnauthorized: true, clientId, protocolVersion, reconnectPeriod: 0, connectTimeout: 5000 });
  const outcome = await new Promise<string>((resolve) => {
    client.once('connect', () => resolve('connected'));
    client.once('error', (err) => resolve(err.message));
    client.once('close', () => resolve('closed'));
  });
  await client.endAsync(true);
  return outcome;
}

for (const { broker, mqttVersion, label } of MQTT_MATRIX) {
  describe(`re-enrolment needs an operator (${label})`, () => {
    let t: TestDevcloud;
    let first: TestAgent;
    let serial: string;
    let thing: string;
    const dirs: string[] = [];
    const agents: TestAgent[] = [];

    beforeAll(async () => {
      t = await startTestDevcloud({ broker, cameras: 0, claimCameras: 1 });
      serial = t.dc.info.claimCameras['claim-1']!.serialNumber;
      first = await startTestAgent(t.dc, 'claim-1', (c) => (c.iot.mqttVersion = mqttVersion));
      agents.push(first);
      await waitForConnected(first);
      thing = first.agent.config.thingName;
    }, 30_000);

    afterAll(async () => {
      await Promise.all(agents.map((a) => a.stop()));
      await t?.cleanup();
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    });

    it('a second agent with the claim config and the same serial is refused; the first keeps its session and uploads', async () => {
      let disconnects = 0;
      first.agent.connection.on('disconnected', () => disconnects++);
      const refusal = await refusedEnrolment(t, mqttVersion);
      expect(refusal['level']).toBe(50);
      expect(String(refusal['msg'])).toContain('already has an active certificate');
      expect(String(refusal['msg'])).toContain(`cloudcam fleet allow-reenrol --serial ${serial}`);
      expect(t.dc.identity.registrations).toHaveLength(1);

      const request = await requestSnapshot(t.dc, thing);
      expect((await waitForReport(t.dc, thing, request.id)).status).toBe('uploaded');
      await first.waitForLog((l) => l['event'] === 'snapshot.uploaded' && l['id'] === request.id);
      expect(disconnects).toBe(0);
      expect(first.agent.connection.connected).toBe(true);
    }, 30_000);

    it('allow-reenrol (CLI) lets exactly one re-enrolment through; the old certificate cannot connect; the next one is refused again', async () => {
      await expect(allowReenrolCommand.run(['--serial', 'ACCC8E0000FF', '--devcloud', t.dir])).rejects.toThrow(UsageError); // not enrolled here
      expect(await allowReenrolCommand.run(['--serial', serial.toLowerCase(), '--devcloud', t.dir, '--minutes', '5'])).toBe(0);

      const oldIdentity = { certPath: first.agent.config.iot.certPath, keyPath: first.agent.config.iot.keyPath };
      const kicked = new Promise<void>((resolve) => first.agent.connection.once('disconnected', () => resolve()));
      const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-reenrol-'));
      dirs.push(dir);
      // Enrolment only, no connection yet: so the old connection can only be closed by the deactivation.
      expect(await enrolOnly(t, dir, mqttVersion)).toBe(thing);
      expect(t.dc.identity.registrations).toHaveLength(2);

      // The old certificate: its live connection is closed, and it cannot connect again.
      await kicked;
      await first.stop();
      const outcome = await connectWith(t, oldIdentity.certPath, oldIdentity.keyPath, thing, mqttVersion);
      // Node's TLS server (aedes' listener, mosquitto's mutual-TLS front) ends the handshake without an alert.
      expect(outcome).toMatch(/before secure TLS connection was established/);

      // The thing works with its new certificate (the agent finds the identity it stored).
      const second = await startTestAgent(t.dc, 'claim-1', asAnotherDevice(dir, mqttVersion));
      agents.push(second);
      await waitForConnected(second);
      expect(second.agent.config.thingName).toBe(thing);
      expect(t.dc.identity.registrations).toHaveLength(2);
      const request = await requestSnapshot(t.dc, thing);
      expect((await waitForReport(t.dc, thing, request.id)).status).toBe('uploaded');
      await second.waitForLog((l) => l['event'] === 'snapshot.uploaded' && l['id'] === request.id);

      // The permission was used up: the next re-enrolment is refused, the new camera keeps its session.
      let disconnects = 0;
      second.agent.connection.on('disconnected', () => disconnects++);
      expect(String((await refusedEnrolment(t, mqttVersion))['msg'])).toContain('already has an active certificate');
      expect(t.dc.identity.registrations).toHaveLength(2);
      expect(second.agent.connection.connected).toBe(true);
      expect(disconnects).toBe(0);
    }, 60_000);
  });
}
