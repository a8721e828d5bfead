/**
 * Found by the fleet run (docs/fleet.md), two defects of a claim storm.
 *
 * 1. An agent gave up on a RegisterThing reply that came late, but the cloud had registered the
 *    thing: every retry was then refused (the thing has an ACTIVE certificate) and the camera was
 *    locked out. The agent now waits longer for that reply (REGISTER_TIMEOUT_FACTOR).
 *
 * 2. Found by the fleet run (docs/fleet.md): under a claim storm an agent whose RegisterThing reply
 * came late retried with a new certificate while the first registration was still being decided,
 * and both went through: two ACTIVE certificates for one thing, because the re-enrolment rules were
 * read before either registration was recorded. RegisterThing calls for one thing are decided one
 * at a time now: of two racing registrations for a serial, exactly one is accepted.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadAgentConfig } from '../../src/agent/config/index.js';
import { enrol } from '../../src/agent/provisioning/enrol.js';
import { ensureIdentity } from '../../src/agent/provisioning/provisioning.js';
import { createAgentLogger } from '../../src/agent/logging.js';
import { VapixClient } from '../../src/protocol/vapix/client.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { createCsr, generateDeviceKey } from '../../src/agent/provisioning/csr.js';
import { CLAIM_CLIENT_ID_PREFIX } from '../../src/protocol/fleet-provisioning.js';
import { HAS_MOSQUITTO, startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';

let t: TestDevcloud;
beforeAll(async () => {
  t = await startTestDevcloud({ broker: HAS_MOSQUITTO ? 'mosquitto' : 'aedes', cameras: 0, claimCameras: 1 });
}, 30_000);
afterAll(async () => t?.cleanup());

it('a RegisterThing answered after the reply timeout (but within its own, longer bound) still enrols the camera', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-slow-register-'));
  const config = loadAgentConfig(t.dc.info.claimCameras['claim-1']!.agentConfigPath, {});
  config.stateDir = dir;
  config.iot.certPath = path.join(dir, 'identity', 'device.crt');
  config.iot.keyPath = path.join(dir, 'identity', 'device.key');
  config.iot.mqttVersion = t.dc.broker.mqttVersions.includes(5) ? 5 : 4;
  config.iot.reconnect = { minMs: 20, maxMs: 100 };
  const camera = new VapixClient({ baseUrl: config.camera.url, username: config.camera.username, password: config.camera.password, timeoutMs: 5000 });
  const stop = new AbortController();
  const giveUp = setTimeout(() => stop.abort(new Error('not enrolled within 15 s')), 15_000);
  t.dc.identity.setFaults({ registerDelayMs: 1500 });
  try {
    const log = createAgentLogger({ level: 'error', format: 'json', thing: 'slow', out: new PassThrough() });
    const enrolled = await ensureIdentity(config, { log, camera, replyTimeoutMs: 1000, signal: stop.signal });
    expect(enrolled.thingName).toBe(`cloudcam-${t.dc.info.claimCameras['claim-1']!.serialNumber}`);
  } finally {
    clearTimeout(giveUp);
    t.dc.identity.setFaults({});
    await rm(dir, { recursive: true, force: true });
  }
}, 30_000);

it('two registrations racing for one serial: exactly one is accepted, the other refused by the hook', async () => {
  const config = loadAgentConfig(t.dc.info.claimCameras['claim-1']!.agentConfigPath, {});
  // Another serial than the first test's camera, which is enrolled by now.
  const serial = 'ACCC8E299999';
  const attempt = (n: number): Promise<unknown> => {
    const key = generateDeviceKey('ec-p256');
    return enrol({
      endpoint: config.iot.endpoint,
      port: config.iot.port,
      mqttVersion: t.dc.broker.mqttVersions.includes(5) ? 5 : 4,
      caPath: config.iot.caPath,
      claimCertPath: config.provisioning.claimCertPath,
      claimKeyPath: config.provisioning.claimKeyPath,
      clientId: `${CLAIM_CLIENT_ID_PREFIX}${serial}-${n}`,
      templateName: config.provisioning.templateName,
      parameters: { SerialNumber: serial, Model: 'race' },
      key,
      csrPem: createCsr(key, serial),
      connectTimeoutMs: 10_000,
      replyTimeoutMs: 10_000,
    });
  };
  const results = await Promise.allSettled([1, 2, 3, 4].map(attempt));
  const accepted = results.filter((r) => r.status === 'fulfilled');
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  expect(accepted).toHaveLength(1);
  for (const r of refused) expect(String(r.reason)).toMatch(/active certificate|AccessDenied/i);
  expect(t.dc.identity.registrations.filter((r) => r.serialNumber === serial)).toHaveLength(1);
}, 60_000);
