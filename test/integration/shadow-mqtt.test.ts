/**
 * The shadow service on real brokers, checked by independent clients: the official AWS IoT device SDK
 * (MQTT 5 + IotShadowClientv2) against mosquitto, and mqtt.js over MQTT 3.1.1 against aedes. The
 * service itself runs on an mqtt.js client connected with the devcloud's cloud certificate.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import type * as Crt from 'aws-crt';
import type * as DeviceSdk from 'aws-iot-device-sdk-v2';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findMosquitto, startBroker, type Broker, type BrokerKind } from '../../src/devcloud/broker/index.js';
import { CLOUD_IDENTITY, ensurePki, type CertPaths, type DevPki } from '../../src/devcloud/pki.js';
import { startShadowService, type ShadowService } from '../../src/devcloud/shadow/mqtt-service.js';
import { startDataPlaneApi, type DataPlaneApi } from '../../src/devcloud/shadow/rest-api.js';
import { ShadowStore } from '../../src/devcloud/shadow/store.js';
import { createLogger } from '../../src/lib/log.js';

const log = createLogger({ name: 'shadow-mqtt-test', level: 'silent' });
const mosquittoPath = findMosquitto();
if (mosquittoPath === undefined) console.warn('mosquitto not found: the device SDK shadow tests are skipped');

const SDK_THING = 'cam-sdk';
const JS_THING = 'cam-js';
const SHADOW = 'cloudcam';

let dir: string;
let pki: DevPki;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudcam-shadow-mqtt-'));
  pki = await ensurePki(join(dir, 'pki'), [SDK_THING, JS_THING]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Resolves on CONNACK; rejects on an error or a close before it. */
async function mqttConnect(broker: Broker, paths: CertPaths, opts: IClientOptions): Promise<MqttClient> {
  const client = connect(broker.url, {
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    ca: await readFile(pki.caCertPath),
    cert: await readFile(paths.certPath),
    key: await readFile(paths.keyPath),
    ...opts,
  });
  return new Promise<MqttClient>((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', reject);
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

interface Stack {
  broker: Broker;
  cloud: MqttClient;
  store: ShadowStore;
  service: ShadowService;
  api: DataPlaneApi;
  stop(): Promise<void>;
}

const REST_CREDENTIALS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };

async function startStack(kind: BrokerKind, protocolVersion: 4 | 5): Promise<Stack> {
  const broker = await startBroker({ kind, pki, workDir: join(dir, `work-${kind}`), log });
  const cloud = await mqttConnect(broker, pki.cloud, { clientId: CLOUD_IDENTITY, protocolVersion });
  const store = new ShadowStore();
  const service = await startShadowService({ client: cloud, store, log });
  const api = await startDataPlaneApi({ store, credentials: REST_CREDENTIALS, log });
  return {
    broker,
    cloud,
    store,
    service,
    api,
    async stop() {
      await service.stop();
      await api.stop();
      await cloud.endAsync();
      await broker.stop();
    },
  };
}

function restClient(api: DataPlaneApi): IoTDataPlaneClient {
  return new IoTDataPlaneClient({
    endpoint: api.url,
    region: 'us-east-1',
    credentials: REST_CREDENTIALS,
    maxAttempts: 1,
  });
}

describe.skipIf(mosquittoPath === undefined)('IotShadowClientv2 (MQTT 5) against mosquitto', () => {
  let stack: Stack;
  let sdk: typeof DeviceSdk;
  let crt: typeof Crt;
  let device: DeviceSdk.mqtt5.Mqtt5Client;
  let shadow: DeviceSdk.iotshadow.IotShadowClientv2;
  let rest: IoTDataPlaneClient;

  beforeAll(async () => {
    stack = await startStack('mosquitto', 5);
    rest = restClient(stack.api);
    sdk = await import('aws-iot-device-sdk-v2');
    // The device SDK re-exports aws-crt's request-response types but not the status enum.
    crt = await import('aws-crt');
    const { iot, mqtt5, iotshadow } = sdk;
    const cert = pki.devices[SDK_THING];
    if (!cert) throw new Error(`no device certificate for ${SDK_THING}`);
    const config = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromPath(stack.broker.host, cert.certPath, cert.keyPath)
      .withCertificateAuthorityFromPath(undefined, pki.caCertPath)
      .withPort(stack.broker.port)
      .withConnectProperties({ clientId: SDK_THING, keepAliveIntervalSeconds: 30 })
      .build();
    device = new mqtt5.Mqtt5Client(config);
    const connected = new Promise<void>((resolve, reject) => {
      device.once('connectionSuccess', () => resolve());
      device.once('connectionFailure', (event: DeviceSdk.mqtt5.ConnectionFailureEvent) =>
        reject(new Error('device SDK could not connect', { cause: event.error })),
      );
    });
    device.start();
    await connected;
    shadow = iotshadow.IotShadowClientv2.newFromMqtt5(device, {
      maxRequestResponseSubscriptions: 4,
      maxStreamingSubscriptions: 4,
      operationTimeoutInSeconds: 10,
    });
  });

  afterAll(async () => {
    shadow?.close();
    if (device) {
      const stopped = new Promise<void>((resolve) => device.once('stopped', () => resolve()));
      device.stop();
      await stopped;
      device.close();
    }
    rest?.destroy();
    await stack?.stop();
  });

  /**
   * Opens a stream and resolves once its subscription is in place, with a promise of its first event
   * (wrapped: an async function returning a bare promise would wait for it).
   */
  async function openStream<T>(
    stream: DeviceSdk.mqtt_request_response.StreamingOperation<T>,
  ): Promise<{ first: Promise<T> }> {
    const established = new Promise<void>((resolve, reject) => {
      stream.on('subscriptionStatus', (event) => {
        if (event.type === crt.mqtt_request_response.SubscriptionStatusEventType.SubscriptionEstablished) resolve();
        else reject(new Error(`stream subscription status ${event.type}`, { cause: event.error }));
      });
    });
    const first = new Promise<T>((resolve, reject) => {
      stream.on('incomingPublish', (event) => resolve(event.message));
      stream.on('incomingPublishError', (event) => reject(new Error('stream message not understood', { cause: event.error })));
    });
    stream.open();
    await established;
    return { first };
  }

  it('rejects a get of a missing named shadow with a modeled 404', async () => {
    const err: unknown = await shadow.getNamedShadow({ thingName: SDK_THING, shadowName: SHADOW }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(sdk.mqtt_request_response.ServiceError);
    const modeled = (err as { modeledError?: { code?: number; message?: string } }).modeledError;
    expect(modeled).toMatchObject({ code: 404, message: `No shadow exists with name: '${SDK_THING}~${SHADOW}'` });
  });

  it('accepts an update and gets it back', async () => {
    const updated = await shadow.updateNamedShadow({ thingName: SDK_THING, shadowName: SHADOW, state: { reported: { mode: 'idle' } } });
    expect(updated.version).toBe(1);
    expect(updated.state).toEqual({ reported: { mode: 'idle' } });
    // The SDK types it as a Date but hands over the epoch seconds of the payload as they are.
    expect(Math.abs((updated.timestamp as unknown as number) - Date.now() / 1000)).toBeLessThan(5);
    const got = await shadow.getNamedShadow({ thingName: SDK_THING, shadowName: SHADOW });
    expect(got.version).toBe(1);
    expect(got.state?.reported).toEqual({ mode: 'idle' });
    expect(stack.store.get({ thing: SDK_THING, shadow: SHADOW }).version).toBe(1);
  });

  it('streams the delta and the documents of an update made over REST', async () => {
    const delta = await openStream(shadow.createNamedShadowDeltaUpdatedStream({ thingName: SDK_THING, shadowName: SHADOW }));
    const documents = await openStream(shadow.createNamedShadowUpdatedStream({ thingName: SDK_THING, shadowName: SHADOW }));
    await rest.send(
      new UpdateThingShadowCommand({
        thingName: SDK_THING,
        shadowName: SHADOW,
        payload: Buffer.from(JSON.stringify({ state: { desired: { mode: 'capture', snapshot: { id: 'r1' } } } })),
      }),
    );
    const deltaEvent = await delta.first;
    expect(deltaEvent.state).toEqual({ mode: 'capture', snapshot: { id: 'r1' } });
    expect(deltaEvent.version).toBe(2);
    const documentsEvent = await documents.first;
    expect(documentsEvent.previous?.version).toBe(1);
    expect(documentsEvent.previous?.state).toEqual({ reported: { mode: 'idle' } });
    expect(documentsEvent.current?.version).toBe(2);
    expect(documentsEvent.current?.state).toEqual({ desired: { mode: 'capture', snapshot: { id: 'r1' } }, reported: { mode: 'idle' } });
  });

  it('rejects a stale version with a modeled 409', async () => {
    const err: unknown = await shadow
      .updateNamedShadow({ thingName: SDK_THING, shadowName: SHADOW, state: { reported: { mode: 'x' } }, version: 1 })
      .catch((e: unknown) => e);
    expect((err as { modeledError?: unknown }).modeledError).toMatchObject({ code: 409, message: 'Version conflict' });
  });

  it('deletes the shadow and reports the deleted version', async () => {
    const deleted = await shadow.deleteNamedShadow({ thingName: SDK_THING, shadowName: SHADOW });
    expect(deleted.version).toBe(2);
    await expect(shadow.getNamedShadow({ thingName: SDK_THING, shadowName: SHADOW })).rejects.toBeInstanceOf(
      sdk.mqtt_request_response.ServiceError,
    );
  });

  it('serves the classic shadow too', async () => {
    const updated = await shadow.updateShadow({ thingName: SDK_THING, state: { desired: { led: 'on' } } });
    expect(updated.version).toBe(1);
    const got = await shadow.getShadow({ thingName: SDK_THING });
    expect(got.state?.delta).toEqual({ led: 'on' });
  });

  it('echoes MQTT 5 correlation data on the response', async () => {
    // The cloud identity, which may use any client id: a second connection with the thing's own
    // certificate would need the thing's client id and take the SDK's session over (as on AWS).
    const js = await mqttConnect(stack.broker, pki.cloud, { clientId: `${CLOUD_IDENTITY}-corr`, protocolVersion: 5 });
    try {
      const accepted = `$aws/things/${SDK_THING}/shadow/get/accepted`;
      await js.subscribeAsync(accepted, { qos: 1 });
      const answer = new Promise<Buffer | undefined>((resolve) => {
        js.on('message', (topic, _payload, packet) => {
          if (topic === accepted) resolve(packet.properties?.correlationData);
        });
      });
      await js.publishAsync(`$aws/things/${SDK_THING}/shadow/get`, '', { qos: 1, properties: { correlationData: Buffer.from('corr-42') } });
      expect((await answer)?.toString()).toBe('corr-42');
    } finally {
      await js.endAsync();
    }
  });
});

describe('mqtt.js (MQTT 3.1.1) against aedes', () => {
  let stack: Stack;
  let device: MqttClient;
  const prefix = `$aws/things/${JS_THING}/shadow/name/${SHADOW}`;
  const inbox: { topic: string; body: Record<string, unknown> }[] = [];
  const waiters: { topic: string; resolve: (body: Record<string, unknown>) => void }[] = [];

  /** The next message on `topic`, including one that already arrived and was not yet taken. */
  function next(topic: string): Promise<Record<string, unknown>> {
    const i = inbox.findIndex((m) => m.topic === topic);
    if (i !== -1) return Promise.resolve(inbox.splice(i, 1)[0]!.body);
    return new Promise((resolve) => waiters.push({ topic, resolve }));
  }

  beforeAll(async () => {
    stack = await startStack('aedes', 4);
    const cert = pki.devices[JS_THING];
    if (!cert) throw new Error(`no device certificate for ${JS_THING}`);
    device = await mqttConnect(stack.broker, cert, { clientId: JS_THING, protocolVersion: 4 });
    device.on('message', (topic, payload) => {
      const body = JSON.parse(payload.toString()) as Record<string, unknown>;
      const w = waiters.findIndex((x) => x.topic === topic);
      if (w !== -1) waiters.splice(w, 1)[0]!.resolve(body);
      else inbox.push({ topic, body });
    });
    // One subscription per topic, no wildcards, as AWS advises for shadow topics.
    const topics = ['get/accepted', 'get/rejected', 'update/accepted', 'update/rejected', 'update/delta', 'update/documents'].map(
      (t) => `${prefix}/${t}`,
    );
    const granted = await device.subscribeAsync(topics, { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual(topics.map(() => 1));
  });

  afterAll(async () => {
    await device?.endAsync();
    await stack?.stop();
  });

  it('answers a get of a missing shadow on get/rejected with 404 and the client token', async () => {
    await device.publishAsync(`${prefix}/get`, JSON.stringify({ clientToken: 'g1' }), { qos: 1 });
    expect(await next(`${prefix}/get/rejected`)).toEqual({
      code: 404,
      message: `No shadow exists with name: '${JS_THING}~${SHADOW}'`,
      timestamp: expect.any(Number) as number,
      clientToken: 'g1',
    });
  });

  it('accepts a reported update, then delivers a desired change made by the cloud as a delta', async () => {
    await device.publishAsync(`${prefix}/update`, JSON.stringify({ state: { reported: { mode: 'idle' } }, clientToken: 'u1' }), { qos: 1 });
    expect(await next(`${prefix}/update/accepted`)).toMatchObject({ state: { reported: { mode: 'idle' } }, version: 1, clientToken: 'u1' });
    expect(await next(`${prefix}/update/documents`)).toMatchObject({ current: { version: 1 } });

    stack.store.update({ thing: JS_THING, shadow: SHADOW }, JSON.stringify({ state: { desired: { mode: 'capture' } } }));
    expect(await next(`${prefix}/update/delta`)).toMatchObject({ state: { mode: 'capture' }, version: 2 });
    expect(await next(`${prefix}/update/accepted`)).toMatchObject({ state: { desired: { mode: 'capture' } }, version: 2 });
    expect(await next(`${prefix}/update/documents`)).toMatchObject({ previous: { version: 1 }, current: { version: 2 } });

    await device.publishAsync(`${prefix}/get`, '', { qos: 1 });
    expect(await next(`${prefix}/get/accepted`)).toMatchObject({
      state: { desired: { mode: 'capture' }, reported: { mode: 'idle' }, delta: { mode: 'capture' } },
      version: 2,
    });

    // Reporting the desired value and clearing desired leaves nothing to do: no delta.
    await device.publishAsync(`${prefix}/update`, JSON.stringify({ state: { reported: { mode: 'capture' }, desired: null } }), { qos: 1 });
    expect(await next(`${prefix}/update/accepted`)).toMatchObject({ version: 3 });
    expect(await next(`${prefix}/update/documents`)).toMatchObject({ current: { state: { reported: { mode: 'capture' } }, version: 3 } });
    expect(stack.store.get({ thing: JS_THING, shadow: SHADOW }).state).toEqual({ reported: { mode: 'capture' } });
  });

  it('answers an invalid update on update/rejected with 400', async () => {
    await device.publishAsync(`${prefix}/update`, '{"state": nope', { qos: 1 });
    expect(await next(`${prefix}/update/rejected`)).toEqual({ code: 400, message: 'Invalid JSON', timestamp: expect.any(Number) as number });
  });

  it('detaches from the store when stopped', async () => {
    const cloud2 = await mqttConnect(stack.broker, pki.cloud, { clientId: `${CLOUD_IDENTITY}-2`, protocolVersion: 4 });
    try {
      const extra = await startShadowService({ client: cloud2, store: stack.store, log });
      expect(stack.store.listenerCount('updated')).toBe(2);
      expect(cloud2.listenerCount('message')).toBe(1);
      await extra.stop();
      expect(stack.store.listenerCount('updated')).toBe(1);
      expect(stack.store.listenerCount('deleted')).toBe(1);
      expect(cloud2.listenerCount('message')).toBe(0);
    } finally {
      await cloud2.endAsync();
    }
  });
});
