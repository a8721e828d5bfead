import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../src/agent/config/index.js';
import { createAgentLogger } from '../../src/agent/logging.js';
import { ensureIdentity } from '../../src/agent/provisioning/provisioning.js';
import { createCsr, generateDeviceKey } from '../../src/agent/provisioning/csr.js';
import { VapixClient } from '../../src/protocol/vapix/client.js';
import { IDENTITY_FILE } from '../../src/agent/provisioning/identity-store.js';
import { CREATE_FROM_CSR_TOPIC, DEVCLOUD_REQUEST_FIELD, provisionTopic, replyTopics } from '../../src/protocol/fleet-provisioning.js';
import { MQTT_MATRIX, requestSnapshot, startTestAgent, startTestDevcloud, waitForConnected, waitForReport, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';

const CLAIM_CAMERAS = 20;
/** The identity service's clock: tests move it forward to expire ownership tokens. */
let clockOffsetMs = 0;

async function connect(t: TestDevcloud, which: 'cloud' | 'claim', clientId: string): Promise<MqttClient> {
  const { info } = t.dc;
  const [ca, cert, key] = await Promise.all([
    readFile(info.caPath),
    readFile(which === 'cloud' ? info.cloud.certPath : info.provisioning.claimCertPath),
    readFile(which === 'cloud' ? info.cloud.keyPath : info.provisioning.claimKeyPath),
  ]);
  return mqtt.connectAsync(info.mqtt.url, { clientId, protocolVersion: 4, ca, cert, key, rejectUnauthorized: true, reconnectPeriod: 0 });
}

/** Publishes a request and resolves with the first reply (accepted or rejected) to it. */
async function call(client: MqttClient, topic: string, body: object): Promise<{ outcome: 'accepted' | 'rejected'; body: Record<string, unknown> }> {
  const replies = replyTopics(topic);
  await client.subscribeAsync([replies.accepted, replies.rejected], { qos: 1 });
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const onMessage = (t: string, buf: Buffer): void => {
      if (t !== replies.accepted && t !== replies.rejected) return;
      client.off('message', onMessage);
      resolve({ outcome: t === replies.accepted ? 'accepted' : 'rejected', body: JSON.parse(buf.toString()) as Record<string, unknown> });
    };
    client.on('message', onMessage);
    void client.publishAsync(topic, payload, { qos: 1 });
  });
}

for (const { broker, mqttVersion, label } of MQTT_MATRIX) {
  describe(`fleet provisioning by claim (${label})`, () => {
    let t: TestDevcloud;
    let sniffer: MqttClient;
    const seen: { topic: string; payload: string }[] = [];
    const agents: TestAgent[] = [];

    beforeAll(async () => {
      t = await startTestDevcloud({ broker, cameras: 0, claimCameras: CLAIM_CAMERAS, now: () => Date.now() + clockOffsetMs });
      sniffer = await connect(t, 'cloud', 'test-sniffer');
      sniffer.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
      await sniffer.subscribeAsync(['$aws/#', 'cloudcam/#'], { qos: 0 });
    }, 30_000);

    afterAll(async () => {
      await Promise.all(agents.map((a) => a.stop()));
      await sniffer?.endAsync(true);
      await t?.cleanup();
    });

    it(`enrols ${CLAIM_CAMERAS} cameras at once, each as its own thing with its own certificate, key never sent`, async () => {
      const names = Object.keys(t.dc.info.claimCameras);
      expect(names).toHaveLength(CLAIM_CAMERAS);
      const started = Date.now();
      agents.push(...(await Promise.all(names.map((name) => startTestAgent(t.dc, name, (c) => (c.iot.mqttVersion = mqttVersion))))));
      await Promise.all(agents.map((a) => waitForConnected(a)));
      const took = Date.now() - started;

      const things = agents.map((a) => a.agent.config.thingName);
      const serials = names.map((n) => t.dc.info.claimCameras[n]!.serialNumber);
      expect(things).toEqual(serials.map((s) => `cloudcam-${s}`));
      expect(new Set(things).size).toBe(CLAIM_CAMERAS);

      const ids = await Promise.all(
        agents.map(async (a) => {
          const stored = JSON.parse(await readFile(path.join(a.config.stateDir, IDENTITY_FILE), 'utf8')) as { thingName: string; certificateId: string };
          expect(stored.thingName).toBe(a.agent.config.thingName);
          expect((await stat(a.agent.config.iot.keyPath)).mode & 0o777).toBe(0o600);
          expect((await stat(a.agent.config.iot.certPath)).mode & 0o777).toBe(0o600);
          const cert = new X509Certificate(await readFile(a.agent.config.iot.certPath));
          expect(cert.checkIssued(new X509Certificate(await readFile(t.dc.info.caPath)))).toBe(true);
          return stored.certificateId;
        }),
      );
      expect(new Set(ids).size).toBe(CLAIM_CAMERAS);
      expect(t.dc.identity.registrations.map((r) => r.certificateId).sort()).toEqual([...ids].sort());

      // Each connected as itself: presence online under its new thing name.
      for (const thing of things) {
        await expect.poll(() => seen.some((m) => m.topic === `cloudcam/${thing}/presence` && m.payload.includes('"online"'))).toBe(true);
      }
      // The requests crossed the broker (the sniffer saw them), and no private key did.
      expect(seen.filter((m) => m.topic === CREATE_FROM_CSR_TOPIC)).toHaveLength(CLAIM_CAMERAS);
      const keys = await Promise.all(agents.map(async (a) => (await readFile(a.agent.config.iot.keyPath, 'utf8')).replace(/-----[^-]+-----|\s/g, '')));
      for (const m of seen) {
        expect(m.payload).not.toMatch(/PRIVATE KEY/);
        for (const k of keys) expect(m.payload.replace(/\\n|\s/g, '')).not.toContain(k.slice(40, 100));
      }
      console.log(`${CLAIM_CAMERAS} cameras enrolled and connected in ${took} ms (${label})`);
    }, 60_000);

    it('serves snapshots end to end for provisioned things', async () => {
      for (const a of agents.slice(0, 3)) {
        const thing = a.agent.config.thingName;
        const request = await requestSnapshot(t.dc, thing);
        const report = await waitForReport(t.dc, thing, request.id);
        expect(report.status).toBe('uploaded');
        expect(report.key).toMatch(new RegExp(`^${thing}/`));
      }
    }, 60_000);

    it('a restart reuses the stored identity: no second enrolment', async () => {
      const first = agents.shift()!;
      const thing = first.agent.config.thingName;
      const registrations = t.dc.identity.registrations.length;
      const csrRequests = seen.filter((m) => m.topic === CREATE_FROM_CSR_TOPIC).length;
      await first.stop();
      const again = await startTestAgent(t.dc, 'claim-1', (c) => (c.iot.mqttVersion = mqttVersion));
      agents.push(again);
      await waitForConnected(again);
      expect(again.agent.config.thingName).toBe(thing);
      await again.waitForLog((l) => l['event'] === 'provisioning.identity-found');
      expect(t.dc.identity.registrations.length).toBe(registrations);
      expect(seen.filter((m) => m.topic === CREATE_FROM_CSR_TOPIC).length).toBe(csrRequests);
    }, 30_000);

    it('rejects an expired ownership token and a missing template parameter with the AWS error shape', async () => {
      const claim = await connect(t, 'claim', 'cloudcam-claim-TEST');
      try {
        const csr = createCsr(generateDeviceKey(), 'ACCC8E999999');
        const created = await call(claim, CREATE_FROM_CSR_TOPIC, { certificateSigningRequest: csr });
        expect(created.outcome).toBe('accepted');
        expect(Object.keys(created.body).sort()).toEqual(['certificateId', 'certificateOwnershipToken', 'certificatePem', DEVCLOUD_REQUEST_FIELD].sort());
        const token = created.body['certificateOwnershipToken'] as string;
        const topic = provisionTopic(t.dc.info.provisioning.templateName);

        const missing = await call(claim, topic, { certificateOwnershipToken: token, parameters: { Model: 'M3086-V' } });
        expect(missing.outcome).toBe('rejected');
        expect(missing.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidParameters', errorMessage: expect.stringContaining('SerialNumber') as unknown });

        clockOffsetMs = 61 * 60_000;
        const expired = await call(claim, topic, { certificateOwnershipToken: token, parameters: { SerialNumber: 'ACCC8E999999', Model: 'x' } });
        expect(expired.outcome).toBe('rejected');
        expect(expired.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidCertificateOwnershipToken', errorMessage: expect.stringContaining('expired') as unknown });
        expect(t.dc.identity.registrations.some((r) => r.serialNumber === 'ACCC8E999999')).toBe(false);
      } finally {
        clockOffsetMs = 0;
        await claim.endAsync(true);
      }
    }, 30_000);
  });
}

describe('fleet provisioning failures (aedes)', () => {
  it('a serial not on the allow-list is refused, logged once with the fix, retried with backoff, and stops cleanly', async () => {
    const t = await startTestDevcloud({ broker: 'aedes', cameras: 0, claimCameras: 1, allowedSerials: ['ACCC8E000000'] });
    try {
      const config = loadAgentConfig(t.dc.info.claimCameras['claim-1']!.agentConfigPath, {});
      config.iot.reconnect = { minMs: 20, maxMs: 50 };
      const lines: Record<string, unknown>[] = [];
      const out = new PassThrough();
      out.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)));
      const log = createAgentLogger({ level: 'debug', format: 'json', thing: 'unprovisioned', out });
      const stop = new AbortController();
      const camera = new VapixClient({ baseUrl: config.camera.url, username: config.camera.username, password: config.camera.password, timeoutMs: 5000 });
      const enrolling = ensureIdentity(config, { log, camera, signal: stop.signal, replyTimeoutMs: 2000 });
      await expect.poll(() => lines.filter((l) => l['event'] === 'provisioning.failed').length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
      stop.abort(new Error('test stop'));
      await expect(enrolling).rejects.toThrow();
      const failures = lines.filter((l) => l['event'] === 'provisioning.failed');
      // The first is an error naming the fix; repeats of the same cause are debug, not noise.
      expect(failures[0]).toMatchObject({ level: 50 });
      expect(String(failures[0]!['msg'])).toContain(`add serial ${t.dc.info.claimCameras['claim-1']!.serialNumber} to the allow-list`);
      expect(failures.slice(1).every((l) => l['level'] === 20)).toBe(true);
      expect(t.dc.identity.registrations).toHaveLength(0);
      await expect(stat(path.join(config.stateDir, IDENTITY_FILE))).rejects.toThrow(/ENOENT/);
    } finally {
      await t.cleanup();
    }
  }, 30_000);
});
