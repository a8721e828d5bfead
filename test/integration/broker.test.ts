import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { connect as netConnect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findSetpriv } from '../../src/devcloud/broker/mosquitto.js';
import { readDevcloudInfo } from '../../src/devcloud/info.js';
import { runCli } from '../helpers/process.js';
import { findMosquitto, startBroker, type Broker, type BrokerKind } from '../../src/devcloud/broker/index.js';
import { createLogger } from '../../src/lib/log.js';
import { CLAIM_CLIENT_ID_PREFIX } from '../../src/protocol/fleet-provisioning.js';
import { createCa, ensurePki, issueCertificate, loadCa, writeCertificate, type CertPaths, type DevPki } from '../../src/devcloud/pki.js';

const log = createLogger({ name: 'broker-test', level: 'silent' });
const mosquittoPath = findMosquitto();
if (!mosquittoPath) console.warn('mosquitto not found: the mosquitto broker tests are skipped');

const kinds: { kind: BrokerKind; skip: boolean }[] = [
  { kind: 'mosquitto', skip: mosquittoPath === undefined },
  { kind: 'aedes', skip: false },
];

let dir: string;
let pki: DevPki;
let foreign: CertPaths;
let claim: CertPaths;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudcam-broker-'));
  pki = await ensurePki(join(dir, 'pki'), ['cam-1', 'cam-2']);
  const otherCa = await createCa('some other CA');
  foreign = await writeCertificate(join(dir, 'foreign'), 'cam-1', await issueCertificate(otherCa, { commonName: 'cam-1', usage: 'client' }));
  claim = await writeCertificate(join(dir, 'claim'), 'claim-batch', await issueCertificate(await loadCa(pki), { commonName: 'claim-batch', usage: 'client' }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.each(kinds)('$kind broker', ({ kind, skip }) => {
  let broker: Broker;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    if (skip) return;
    broker = await startBroker({ kind, pki, workDir: join(dir, `work-${kind}`), extraIdentities: ['claim-batch'], log });
  });
  afterAll(async () => {
    await broker?.stop();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });

  async function tlsFiles(paths?: CertPaths): Promise<IClientOptions> {
    const ca = await readFile(pki.caCertPath);
    if (!paths) return { ca };
    return { ca, cert: await readFile(paths.certPath), key: await readFile(paths.keyPath) };
  }

  /** Resolves on CONNACK, rejects on any error or close before it (no reconnects). */
  async function open(paths: CertPaths | undefined, extra: IClientOptions = {}): Promise<MqttClient> {
    const client = connect(broker.url, { reconnectPeriod: 0, connectTimeout: 5_000, ...(await tlsFiles(paths)), ...extra });
    clients.push(client);
    return new Promise<MqttClient>((resolve, reject) => {
      client.once('connect', () => resolve(client));
      client.once('error', reject);
      client.once('close', () => reject(new Error('connection closed before CONNACK')));
    });
  }

  const device = (thing: string, extra: IClientOptions = {}): Promise<MqttClient> =>
    open(pki.devices[thing], { clientId: thing, protocolVersion: 4, ...extra });
  const cloud = (extra: IClientOptions = {}): Promise<MqttClient> =>
    open(pki.cloud, { clientId: 'cloud-test', protocolVersion: 4, ...extra });

  /** SUBACK codes; mqtt.js rejects when any code is a failure, but the packet is on the error. */
  async function subackCodes(client: MqttClient, filters: string[]): Promise<number[]> {
    try {
      return (await client.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos);
    } catch (err) {
      const granted = (err as { packet?: { granted?: unknown[] } }).packet?.granted;
      if (!granted) throw err;
      return granted.map(Number);
    }
  }

  /** Collects messages until one arrives on `until`; later assertions look at everything before it. */
  function collectUntil(client: MqttClient, until: string): Promise<{ topic: string; payload: string }[]> {
    const seen: { topic: string; payload: string }[] = [];
    return new Promise((resolve) => {
      client.on('message', (topic, payload) => {
        seen.push({ topic, payload: payload.toString() });
        if (topic === until) resolve(seen);
      });
    });
  }

  describe.skipIf(skip)('mutual TLS', () => {
    it('accepts a device with its certificate over MQTT 3.1.1', async () => {
      const client = await device('cam-1');
      expect(client.connected).toBe(true);
    });

    it.runIf(kind === 'mosquitto')('accepts a device over MQTT 5', async () => {
      const client = await device('cam-1', { protocolVersion: 5 });
      expect(client.connected).toBe(true);
      expect(broker.mqttVersions).toEqual([4, 5]);
    });

    it('refuses a client without a certificate', async () => {
      await expect(open(undefined, { clientId: 'anon', protocolVersion: 4 })).rejects.toThrow(
        /alert certificate required/,
      );
    });

    it('refuses a certificate from another CA', async () => {
      await expect(open(foreign, { clientId: 'cam-1', protocolVersion: 4 })).rejects.toThrow(
        // Node's TLS 1.3 server (aedes, and mosquitto's front) may just drop the connection.
        /closed before CONNACK|unknown ca/,
      );
    });

    it('restarts on the same fixed port after stop()', async () => {
      const first = await startBroker({ kind, pki, workDir: join(dir, `restart-${kind}`), log });
      const stopping = Date.now();
      await first.stop();
      // Well under the SIGKILL fallback: a stop right after start must not lose its SIGTERM.
      expect(Date.now() - stopping).toBeLessThan(1_000);
      const second = await startBroker({ kind, pki, workDir: join(dir, `restart-${kind}`), port: first.port, log });
      try {
        expect(second.port).toBe(first.port);
        const client = connect(second.url, { reconnectPeriod: 0, clientId: 'cam-2', ...(await tlsFiles(pki.devices['cam-2'])) });
        clients.push(client);
        await new Promise<void>((resolve, reject) => {
          client.once('connect', () => resolve());
          client.once('error', reject);
        });
      } finally {
        await second.stop();
      }
    });

    it('fails with a clear error when a fixed port is taken', async () => {
      const blocker: Server = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const { port } = blocker.address() as { port: number };
      try {
        await expect(startBroker({ kind, pki, workDir: join(dir, `busy-${kind}`), port, log })).rejects.toThrow(/address already in use|EADDRINUSE/i);
      } finally {
        await new Promise<void>((resolve) => blocker.close(() => resolve()));
      }
    });
  });

  describe.skipIf(skip)('client id = thing name (AWS: iot:Connect on client/${iot:Connection.Thing.ThingName})', () => {
    /** Resolves when `client` is closed by the broker, e.g. by a session takeover. */
    const closed = (client: MqttClient): Promise<void> => new Promise((resolve) => client.once('close', () => resolve()));

    // A CONNACK refusal (AWS refuses at CONNECT), never a connection that was accepted and then cut:
    // aedes refuses in its authenticate hook, mosquitto through devcloud's mutual-TLS front (mtls-front.ts).
    /** mqtt.js's error for a refused CONNACK carries the return code (3.1.1: 5) or reason code (5: 0x87). */
    const notAuthorized = (version: 4 | 5): { code: number } => ({ code: version === 5 ? 0x87 : 5 });

    it('refuses camera-2’s certificate connecting as camera-1 with a CONNACK refusal, and the real camera-1 is never disconnected', async () => {
      for (const version of broker.mqttVersions) {
        const real = await device('cam-1', { protocolVersion: version });
        let kicked = false;
        void closed(real).then(() => (kicked = true));
        await expect(open(pki.devices['cam-2'], { clientId: 'cam-1', protocolVersion: version })).rejects.toMatchObject(notAuthorized(version));
        // The real one still works: a round trip after the refusal proves it was not taken over.
        await real.publishAsync('cloudcam/cam-1/presence', 'still here', { qos: 1 });
        expect(kicked).toBe(false);
        expect(real.connected).toBe(true);
        await real.endAsync();
      }
    });

    it('refuses a device certificate connecting with any other client id', async () => {
      for (const version of broker.mqttVersions) {
        await expect(open(pki.devices['cam-1'], { clientId: 'someone-else', protocolVersion: version })).rejects.toMatchObject(notAuthorized(version));
      }
    });

    it(`lets a claim certificate connect only with a client id starting with ${CLAIM_CLIENT_ID_PREFIX}`, async () => {
      const ok = await open(claim, { clientId: `${CLAIM_CLIENT_ID_PREFIX}ACCC8E000001`, protocolVersion: 4 });
      expect(ok.connected).toBe(true);
      await expect(open(claim, { clientId: 'cam-1', protocolVersion: 4 })).rejects.toMatchObject(notAuthorized(4));
    });
  });

  describe.skipIf(skip)('ACL', () => {
    it('lets a device subscribe to its own topics and refuses other things’ topics', async () => {
      const client = await device('cam-1');
      expect(await subackCodes(client, ['$aws/things/cam-1/shadow/name/cloudcam/update/delta', 'cloudcam/cam-1/snapshot/#'])).toEqual([1, 1]);
      const foreignFilters = ['$aws/things/cam-2/shadow/name/cloudcam/update/delta', 'cloudcam/cam-2/presence', 'cloudcam/+/presence', '#'];
      expect(await subackCodes(client, foreignFilters)).toEqual([128, 128, 128, 128]);
      expect(client.connected).toBe(true);
    });

    it.runIf(kind === 'mosquitto')('refuses a foreign subscription with MQTT 5 reason 0x87', async () => {
      const client = await device('cam-1', { protocolVersion: 5 });
      expect(await subackCodes(client, ['cloudcam/cam-1/presence', 'cloudcam/cam-2/presence'])).toEqual([1, 0x87]);
    });

    it('confines a claim certificate to the fleet-provisioning topics', async () => {
      const client = await open(claim, { clientId: `${CLAIM_CLIENT_ID_PREFIX}ACCC8E000002`, protocolVersion: 4 });
      const codes = await subackCodes(client, [
        '$aws/certificates/create-from-csr/json/accepted',
        '$aws/provisioning-templates/cloudcam/provision/json/accepted',
        '$aws/things/claim-batch/shadow/get/accepted',
        'cloudcam/claim-batch/presence',
      ]);
      expect(codes).toEqual([1, 1, 128, 128]);
    });

    it('lets the cloud identity subscribe to every thing’s shadow and receive a device’s publish', async () => {
      const sub = await cloud();
      const granted = await sub.subscribeAsync(['$aws/things/+/shadow/#', 'cloudcam/+/presence'], { qos: 1 });
      expect(granted.map((g) => g.qos)).toEqual([1, 1]);
      const received = collectUntil(sub, '$aws/things/cam-2/shadow/name/cloudcam/update');
      const pub = await device('cam-2');
      await pub.publishAsync('$aws/things/cam-2/shadow/name/cloudcam/update', '{"state":{}}', { qos: 1 });
      expect(await received).toEqual([{ topic: '$aws/things/cam-2/shadow/name/cloudcam/update', payload: '{"state":{}}' }]);
    });

    it('drops a device’s publish to another thing’s topics', async () => {
      const sub = await cloud();
      await sub.subscribeAsync(['$aws/things/+/shadow/#', 'cloudcam/#'], { qos: 1 });
      const received = collectUntil(sub, 'cloudcam/cam-1/presence');
      const pub = await device('cam-1');
      await pub.publishAsync('$aws/things/cam-2/shadow/name/cloudcam/update', 'forged', { qos: 1 });
      await pub.publishAsync('cloudcam/cam-2/presence', 'forged', { qos: 1, retain: true });
      // Positive control from the same connection: it arrives after the forged ones would have.
      await pub.publishAsync('cloudcam/cam-1/presence', 'control', { qos: 1 });
      expect(await received).toEqual([{ topic: 'cloudcam/cam-1/presence', payload: 'control' }]);
      expect(pub.connected).toBe(true);
      // Nor was the forged retained message stored: a later subscriber gets only the control message.
      const late = await cloud({ clientId: 'cloud-late' });
      const lateSeen = collectUntil(late, 'cloudcam/cam-1/late');
      await late.subscribeAsync(['cloudcam/cam-2/presence', 'cloudcam/cam-1/late'], { qos: 1 });
      await pub.publishAsync('cloudcam/cam-1/late', 'control', { qos: 1 });
      expect((await lateSeen).map((m) => m.topic)).toEqual(['cloudcam/cam-1/late']);
    });

    it.runIf(kind === 'mosquitto')('answers a foreign MQTT 5 QoS 1 publish with PUBACK 0x87', async () => {
      const pub = await device('cam-1', { protocolVersion: 5 });
      await expect(pub.publishAsync('cloudcam/cam-2/presence', 'forged', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    });

    // Live view (issue 22): the cloud publishes cloudcam/{thing}/live/request; the device policy lets a
    // camera subscribe to and receive its own (infra/iot-policies.ts), never another's, and never publish one.
    it('delivers the cloud’s live request to its own camera only, and refuses the other camera’s subscription', async () => {
      const cam1 = await device('cam-1');
      const cam2 = await device('cam-2');
      expect(await subackCodes(cam1, ['cloudcam/cam-1/live/request'])).toEqual([1]);
      expect(await subackCodes(cam2, ['cloudcam/cam-1/live/request', 'cloudcam/+/live/request'])).toEqual([128, 128]);
      const got = collectUntil(cam1, 'cloudcam/cam-1/live/request');
      const pub = await cloud();
      await pub.publishAsync('cloudcam/cam-1/live/request', '{"requestId":"r1","at":"2026-12-07T00:00:00Z"}', { qos: 1 });
      expect((await got).map((m) => m.topic)).toEqual(['cloudcam/cam-1/live/request']);
    });

    it('drops a camera’s publish of a live request, even on its own topic', async () => {
      const sub = await cloud();
      await sub.subscribeAsync(['cloudcam/#'], { qos: 1 });
      const received = collectUntil(sub, 'cloudcam/cam-1/presence');
      const pub = await device('cam-1');
      await pub.publishAsync('cloudcam/cam-1/live/request', 'forged', { qos: 1 });
      await pub.publishAsync('cloudcam/cam-2/live/request', 'forged', { qos: 1 });
      // Positive control from the same connection: it arrives after the forged ones would have.
      await pub.publishAsync('cloudcam/cam-1/presence', 'control', { qos: 1 });
      expect(await received).toEqual([{ topic: 'cloudcam/cam-1/presence', payload: 'control' }]);
    });

    it('takes the identity from the certificate, not from the MQTT username', async () => {
      const client = await device('cam-1', { username: 'cloudcam-devcloud' });
      expect(await subackCodes(client, ['cloudcam/cam-2/presence', 'cloudcam/cam-1/presence'])).toEqual([128, 1]);
    });
  });
});

describe.skipIf(mosquittoPath === undefined)('mosquitto process supervision', () => {
  /** The mosquitto child started with this config file, found through /proc (Broker exposes no pid). */
  async function pidOf(confPath: string): Promise<number> {
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.split('\0').includes(confPath)) return Number(entry);
    }
    throw new Error(`no process runs with ${confPath}`);
  }

  it('logs an unexpected exit with the tail of mosquitto’s log', async () => {
    const lines = new PassThrough();
    const errors = new Promise<Record<string, unknown>>((resolve) => {
      createInterface({ input: lines }).on('line', (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry['msg'] === 'mosquitto exited unexpectedly') resolve(entry);
      });
    });
    const workDir = join(dir, 'work-crash');
    const broker = await startBroker({ kind: 'mosquitto', pki, workDir, log: createLogger({ name: 't', level: 'error', destination: lines }) });
    try {
      process.kill(await pidOf(join(workDir, 'mosquitto.conf')), 'SIGKILL');
      const entry = await errors;
      expect(entry['signal']).toBe('SIGKILL');
      expect(entry['stderrTail']).toMatch(/mosquitto version \S+ running/);
    } finally {
      await broker.stop();
    }
  });

  /** True when a TCP connect to 127.0.0.1:port is refused (nothing listens). */
  const refused = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const socket = netConnect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });

  // The front must not outlive its broker: a client must see its connection fail and connect again
  // (then subscribing again), as AWS clients do, never a TLS connection that leads nowhere.
  it('a crashed mosquitto: its clients see their connections close and its port refuses new ones', async () => {
    const workDir = join(dir, 'work-crash-front');
    const lines = new PassThrough();
    const reported = new Promise<void>((resolve) => {
      createInterface({ input: lines }).on('line', (line) => {
        if ((JSON.parse(line) as Record<string, unknown>)['msg'] === 'mosquitto exited unexpectedly') resolve();
      });
    });
    const broker = await startBroker({ kind: 'mosquitto', pki, workDir, log: createLogger({ name: 't', level: 'error', destination: lines }) });
    const [ca, cert, key] = await Promise.all([readFile(pki.caCertPath), readFile(pki.devices['cam-1']!.certPath), readFile(pki.devices['cam-1']!.keyPath)]);
    const client = connect(broker.url, { reconnectPeriod: 0, clientId: 'cam-1', protocolVersion: 4, ca, cert, key, rejectUnauthorized: true });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      process.kill(await pidOf(join(workDir, 'mosquitto.conf')), 'SIGKILL');
      await Promise.all([closed, reported]);
      expect(await refused(broker.port)).toBe(true);
    } finally {
      client.end(true);
      await broker.stop();
    }
  });
});

describe.skipIf(mosquittoPath === undefined || findSetpriv() === undefined)('mosquitto never outlives devcloud', () => {
  /** True once nothing accepts TCP connections on 127.0.0.1:port. */
  const portClosed = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const socket = netConnect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });

  it('closes the broker port within 2 s of devcloud being SIGKILLed', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'cloudcam-pdeath-'));
    const devcloud = runCli(['devcloud', '--state-dir', stateDir, '--cameras', '1', '--broker', 'mosquitto']);
    try {
      await devcloud.waitForOutput(/devcloud ready|shadow REST API/, 30_000);
      const info = await readDevcloudInfo(stateDir);
      expect(info.mqtt.broker).toBe('mosquitto');
      expect(await portClosed(info.mqtt.port)).toBe(false);
      devcloud.child.kill('SIGKILL');
      await devcloud.exited;
      const killedAt = Date.now();
      // Polled: mosquitto is not our child, so there is no exit event to await.
      while (!(await portClosed(info.mqtt.port)) && Date.now() - killedAt < 2_000) await new Promise((r) => setTimeout(r, 20));
      expect(await portClosed(info.mqtt.port)).toBe(true);
      expect(Date.now() - killedAt).toBeLessThan(2_000);
    } finally {
      devcloud.child.kill('SIGKILL');
      await rm(stateDir, { recursive: true, force: true });
    }
  }, 40_000);
});

describe.skipIf(mosquittoPath === undefined)('official AWS IoT device SDK against mosquitto', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startBroker({ kind: 'mosquitto', pki, workDir: join(dir, 'work-sdk'), log });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('connects over mutual TLS with newDirectMqttBuilderWithMtlsFromPath and publishes', async () => {
    const { iot, mqtt5 } = await import('aws-iot-device-sdk-v2');
    const cam = pki.devices['cam-1']!;
    const config = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromPath(broker.host, cam.certPath, cam.keyPath)
      .withCertificateAuthorityFromPath(undefined, pki.caCertPath)
      .withPort(broker.port)
      .withConnectProperties({ clientId: 'cam-1', keepAliveIntervalSeconds: 30 })
      .build();
    const client = new mqtt5.Mqtt5Client(config);
    try {
      const connected = new Promise<void>((resolve, reject) => {
        client.on('connectionSuccess', () => resolve());
        client.on('connectionFailure', (event) => reject(new Error(`SDK connection failed: ${event.error.error_name ?? 'unknown CRT error'}`)));
      });
      client.start();
      await connected;
      const suback = await client.subscribe({ subscriptions: [{ topicFilter: 'cloudcam/cam-1/echo', qos: mqtt5.QoS.AtLeastOnce }] });
      expect(suback.reasonCodes).toEqual([mqtt5.SubackReasonCode.GrantedQoS1]);
      const echoed = new Promise<string>((resolve) => {
        client.on('messageReceived', (event) => resolve(Buffer.from(event.message.payload as ArrayBuffer).toString()));
      });
      await client.publish({ topicName: 'cloudcam/cam-1/echo', qos: mqtt5.QoS.AtLeastOnce, payload: 'hello' });
      expect(await echoed).toBe('hello');
      const denied = await client.publish({ topicName: 'cloudcam/cam-2/echo', qos: mqtt5.QoS.AtLeastOnce, payload: 'no' });
      expect(denied?.reasonCode).toBe(mqtt5.PubackReasonCode.NotAuthorized);
    } finally {
      const stopped = new Promise<void>((resolve) => client.on('stopped', () => resolve()));
      client.stop();
      await stopped;
      client.close();
    }
  });
});
