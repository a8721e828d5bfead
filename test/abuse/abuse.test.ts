/**
 * The abuse suite: what a hostile or broken cloud, network or camera can throw at the agent. The
 * real agent runs against devcloud; fast-check generates shadow documents and raw MQTT payloads
 * (wrong types, deep nesting, 128 KB strings, invalid UTF-8, __proto__/constructor keys) published
 * straight onto the topics the agent listens to. After every batch the agent must still serve a real
 * request, must not have crashed or polluted a prototype, and must not have connected anywhere it
 * should not.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import fc from 'fast-check';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MQTT_MATRIX, putRequest, requestSnapshot, startTestAgent, startTestDevcloud, waitForReport, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import { CLOUD_IDENTITY } from '../../src/devcloud/broker/index.js';
import { shadowTopics } from '../../src/protocol/topics.js';
import type { SnapshotRequest } from '../../src/protocol/snapshot.js';

const thing = 'camera-1';
const { broker, mqttVersion } = MQTT_MATRIX[0]!;
const DANGEROUS_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'id', 'url', 'fields', 'expiresAt', 'maxBytes', 'snapshot', 'state', 'version'];

const tried: Record<string, number> = {};
const note = (what: string, n = 1): void => void (tried[what] = (tried[what] ?? 0) + n);

/** Values of every JSON type, keys that attack prototypes, long strings and deep nesting. */
const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, -1, 1e308, -0, Number.MAX_SAFE_INTEGER + 2),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom('x'.repeat(128 * 1024), 'ünïcødé'.repeat(9000), 'javascript:alert(1)', '../../etc/passwd', 'file:///etc/passwd', 'http://169.254.169.254/latest/meta-data/'),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...DANGEROUS_KEYS), fc.string({ maxLength: 10 })), tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** Almost-valid snapshot requests: each field may be of the wrong type. */
const hostileRequest = (base: SnapshotRequest): fc.Arbitrary<Record<string, unknown>> =>
  fc.record(
    {
      id: fc.oneof(fc.constant(`fuzz-${Math.random().toString(36).slice(2)}`), hostileValue),
      url: fc.oneof(fc.constant(base.url), hostileValue),
      fields: fc.oneof(fc.constant(base.fields), hostileValue),
      expiresAt: fc.oneof(fc.constant(base.expiresAt), hostileValue),
      maxBytes: fc.oneof(fc.constant(base.maxBytes), hostileValue),
      resolution: hostileValue,
      __proto__: hostileValue,
      constructor: hostileValue,
    },
    { requiredKeys: [] },
  );

function deepNesting(depth: number): string {
  return `{"state":{"snapshot":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}},"version":1}`;
}

describe(`abuse suite (${MQTT_MATRIX[0]!.label})`, () => {
  let t: TestDevcloud;
  let a: TestAgent;
  let cloud: MqttClient;
  let trap: net.Server;
  let trapPort = 0;
  let trapConnections = 0;

  beforeAll(async () => {
    t = await startTestDevcloud({ broker });
    trap = net.createServer((s) => {
      trapConnections += 1;
      s.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    trapPort = (trap.address() as net.AddressInfo).port;
    a = await startTestAgent(t.dc, thing, (c) => {
      c.iot.mqttVersion = mqttVersion;
      c.snapshot.captureTimeoutMs = 1500;
    });
    const [ca, cert, key] = await Promise.all([fs.readFile(t.dc.info.caPath), fs.readFile(t.dc.info.cloud.certPath), fs.readFile(t.dc.info.cloud.keyPath)]);
    cloud = await mqtt.connectAsync(t.dc.info.mqtt.url, { clientId: `${CLOUD_IDENTITY}-fuzz`, ca, cert, key, rejectUnauthorized: true, reconnectPeriod: 0 });
    await waitForReport(t.dc, thing, (await requestSnapshot(t.dc, thing)).id);
  });
  afterAll(async () => {
    await cloud?.endAsync(true);
    await a?.stop();
    trap?.close();
    await t?.cleanup();
    console.log(`abuse suite: inputs tried ${JSON.stringify(tried)}`);
  });

  /** The agent still works: a fresh request is uploaded; nothing crashed; no prototype polluted. */
  async function stillServing(): Promise<void> {
    // Fuzzed deltas still in flight may supersede the first try (newest request wins, by design).
    for (let attempt = 1; ; attempt++) {
      const rep = await waitForReport(t.dc, thing, (await requestSnapshot(t.dc, thing)).id);
      if (rep.status === 'uploaded') break;
      expect(rep.error).toMatch(/^superseded by newer request/);
      expect(attempt).toBeLessThan(5);
    }
    expect(a.logs.filter((l) => l['event'] === 'snapshot.crashed')).toEqual([]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype.toString.call({})).toBe('[object Object]');
  }

  it('raw MQTT payloads on the shadow topics: garbage, invalid UTF-8, 128 KB, deep nesting', async () => {
    const topics = shadowTopics(thing, t.dc.info.shadowName);
    const targets = [topics.updateDelta, topics.getAccepted, topics.updateAccepted, topics.getRejected, topics.updateRejected];
    const payloads: Buffer[] = [
      Buffer.from([0xff, 0xfe, 0xfd, 0x00, 0xc3, 0x28]),
      Buffer.from('{"state":{"snapshot":"\ud800"},"version":1}'),
      Buffer.concat([Buffer.from('{"state":{"snapshot":{"id":"'), Buffer.from([0xc3, 0x28, 0xe2, 0x82]), Buffer.from('"}},"version":2}')]),
      Buffer.from('x'.repeat(128 * 1024)),
      Buffer.from(`{"state":{"snapshot":{"id":"${'y'.repeat(128 * 1024)}"}},"version":3}`),
      Buffer.from(deepNesting(5000)),
      Buffer.from('{"__proto__":{"polluted":1},"state":{"__proto__":{"polluted":1},"snapshot":{"__proto__":{"polluted":1}}},"version":4}'),
      Buffer.from('{"constructor":{"prototype":{"polluted":1}},"state":{"snapshot":{"constructor":{"prototype":{"polluted":1}}}},"version":5}'),
      Buffer.from('{"clientToken":{"toString":1},"state":null,"version":"NaN"}'),
      Buffer.alloc(0),
    ];
    for (const topic of targets) for (const p of payloads) await cloud.publishAsync(topic, p, { qos: 1 });
    note('raw MQTT payloads', targets.length * payloads.length);
    await stillServing();
  });

  it('fast-check: hostile snapshot requests in deltas and in the stored shadow', async () => {
    const base = await requestSnapshot(t.dc, thing);
    await waitForReport(t.dc, thing, base.id);
    const topics = shadowTopics(thing, t.dc.info.shadowName);
    let version = 1_000_000;
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileRequest(base), hostileValue), async (snapshot) => {
        version += 1;
        await cloud.publishAsync(topics.updateDelta, JSON.stringify({ state: { snapshot }, version }), { qos: 1 });
        note('fuzzed delta documents');
      }),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(hostileRequest(base), async (snapshot) => {
        // Through the real shadow service: what it accepts (under 8 KB, valid JSON) reaches the agent.
        try {
          putRequest(t.dc, thing, snapshot);
          note('fuzzed shadow documents');
        } catch {
          note('fuzzed shadow documents refused by the shadow service');
        }
      }),
      { numRuns: 100 },
    );
    await stillServing();
  });

  it('SSRF through the url field: no connection is made to any of them', async () => {
    const base = await requestSnapshot(t.dc, thing);
    await waitForReport(t.dc, thing, base.id);
    const before = trapConnections;
    const urls = [
      'http://169.254.169.254/latest/meta-data/',
      'https://169.254.169.254/latest/meta-data/',
      'https://[fe80::1]/',
      'https://[::1]/',
      `http://localhost:${trapPort}/`,
      `http://127.0.0.2:${trapPort}/`,
      `http://0.0.0.0:${trapPort}/`,
      `http://[::ffff:127.0.0.1]:${trapPort}/`,
      `http://2130706433:${trapPort}/`,
      'https://10.0.0.1/',
      'https://192.168.1.1/',
      'https://172.16.0.1/',
      'file:///etc/passwd',
      'gopher://127.0.0.1:25/',
      'https://evil.example.net/',
      `https://user:pw@127.0.0.1:${trapPort}/`,
    ];
    for (const [i, url] of urls.entries()) {
      const bad = { ...base, id: `${base.id}-ssrf${i}`, url };
      const report = waitForReport(t.dc, thing, bad.id);
      putRequest(t.dc, thing, bad);
      expect(await report, url).toMatchObject({ status: 'rejected', bytes: 0 });
    }
    note('SSRF urls', urls.length);
    expect(trapConnections).toBe(before);
  });

  it('a redirect from an allowed host is not followed', async () => {
    const base = await requestSnapshot(t.dc, thing);
    await waitForReport(t.dc, thing, base.id);
    const redirector = http.createServer((req, res) => {
      req.resume();
      res.writeHead(307, { location: `http://127.0.0.1:${trapPort}/steal` }).end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(redirector.address() as net.AddressInfo).port}`;
    // The feature holds the same arrays: an exact dev host, over http on that port.
    a.config.snapshot.allowedUploadHosts.push(host);
    a.config.snapshot.insecureHttpUploadHosts.push(host);
    const before = trapConnections;
    try {
      const bad = { ...base, id: `${base.id}-redirect`, url: `http://${host}/bucket` };
      const report = waitForReport(t.dc, thing, bad.id);
      putRequest(t.dc, thing, bad);
      expect(await report).toMatchObject({ status: 'failed', error: expect.stringContaining('307') as unknown });
      note('redirects');
      expect(trapConnections).toBe(before);
    } finally {
      a.config.snapshot.allowedUploadHosts.pop();
      a.config.snapshot.insecureHttpUploadHosts.pop();
      redirector.close();
    }
  });

  it('oversized camera replies and a camera that never ends its body', async () => {
    const camera = t.dc.cameras.get(thing)!;
    const base = await requestSnapshot(t.dc, thing);
    await waitForReport(t.dc, thing, base.id);
    const small = { ...base, id: `${base.id}-small`, maxBytes: 1000 };
    const r1 = waitForReport(t.dc, thing, small.id);
    putRequest(t.dc, thing, small);
    expect(await r1).toMatchObject({ status: 'failed', error: expect.stringMatching(/camera: .*(larger|too large|exceed|limit)/i) as unknown });
    note('oversized camera replies');

    camera.setFaults({ endless: true });
    try {
      const endless = { ...base, id: `${base.id}-endless` };
      const r2 = waitForReport(t.dc, thing, endless.id);
      putRequest(t.dc, thing, endless);
      expect(await r2).toMatchObject({ status: 'failed', bytes: 0 });
      note('endless camera bodies');
    } finally {
      camera.setFaults({});
    }
    await stillServing();
    expect(camera.stats.openStreams).toBe(0);
  });
});
