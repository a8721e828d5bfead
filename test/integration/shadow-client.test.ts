import { readFile } from 'node:fs/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShadowClient, ShadowRequestError, type MqttLink } from '../../src/protocol/shadow-client.js';
import { startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';

/** The device side of the shadow protocol against devcloud's shadow service, over mTLS. */
function linkOf(client: MqttClient): MqttLink {
  return {
    publish: async (topic, payload, opts) => {
      await client.publishAsync(topic, payload, opts);
    },
    subscribe: async (topics, qos) => {
      await client.subscribeAsync(topics, { qos });
    },
    on: (event, listener) => client.on(event, listener),
    off: (event, listener) => client.off(event, listener),
  };
}

describe('ShadowClient against the devcloud shadow service', () => {
  let t: TestDevcloud;
  let device: MqttClient;
  let shadow: ShadowClient;
  const thing = 'camera-1';

  beforeAll(async () => {
    t = await startTestDevcloud({ broker: 'aedes' });
    const d = t.dc.info.devices[thing]!;
    device = await mqtt.connectAsync(t.dc.info.mqtt.url, {
      ca: await readFile(t.dc.info.caPath),
      cert: await readFile(d.certPath),
      key: await readFile(d.keyPath),
      clientId: thing,
      protocolVersion: 4,
    });
    shadow = new ShadowClient(linkOf(device), thing, 'client-test', 2000);
    await shadow.subscribe();
  });
  afterAll(async () => {
    shadow.close();
    await device.endAsync();
    await t.cleanup();
  });

  it('get of a missing shadow is undefined, not an error', async () => {
    expect(await shadow.get()).toBeUndefined();
  });

  it('update and get round-trip, with versions', async () => {
    const accepted = await shadow.update({ reported: { a: 1 } });
    expect(accepted.version).toBe(1);
    const doc = await shadow.get();
    expect(doc?.state.reported).toEqual({ a: 1 });
    expect(shadow.version).toBe(1);
  });

  it('emits deltas written by the cloud over REST, and learns their version', async () => {
    const delta = new Promise<[Record<string, unknown>, number]>((resolve) => shadow.once('delta', (s, v) => resolve([s, v])));
    t.dc.store.update({ thing, shadow: 'client-test' }, JSON.stringify({ state: { desired: { a: 2, b: { c: 3 } } } }));
    const [state, version] = await delta;
    expect(state).toEqual({ a: 2, b: { c: 3 } });
    expect(shadow.version).toBe(version);
  });

  it('does not learn versions from updates by other clients, so a conditional update fails (409) instead of clobbering', async () => {
    const known = shadow.version!;
    t.dc.store.update({ thing, shadow: 'client-test' }, JSON.stringify({ state: { reported: { other: true } } }));
    // A get by us learns the new version; before it, the conditional update must be refused.
    await expect(shadow.update({ desired: { a: null } }, { version: known })).rejects.toMatchObject({ code: 409 });
    const doc = await shadow.get();
    expect(doc?.version).toBeGreaterThan(known);
    await expect(shadow.update({ desired: { a: null } }, { version: doc!.version })).resolves.toMatchObject({ version: doc!.version + 1 });
  });

  it('rejections carry AWS code and message', async () => {
    const err = await shadow.update({ desired: { deep: { a: { b: { c: { d: { e: { f: 1 } } } } } } } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShadowRequestError);
    expect((err as ShadowRequestError).code).toBe(400);
  });

  it('times out with a clear error when no service answers', async () => {
    const unanswered = new ShadowClient(
      { ...linkOf(device), publish: async () => undefined }, // the request is lost on the way
      thing,
      'client-test',
      200,
    );
    await expect(unanswered.get()).rejects.toThrow(/no reply from the shadow service .* within 200 ms/);
    unanswered.close();
  });

  // mqtt.js replays unacknowledged publishes on a reconnect before 'connect', so before the features
  // subscribe again; without a session (a restarted broker) the service's answer then finds nobody.
  it('a request that went out before its reply topics were subscribed is sent again once they are', async () => {
    const key = { thing, shadow: 'resend-test' };
    const late = new ShadowClient(linkOf(device), thing, key.shadow, 5000);
    // The cloud identity sees the answer: once it has it, the broker has routed it, to nobody else.
    const observer = await mqtt.connectAsync(t.dc.info.mqtt.url, {
      ca: await readFile(t.dc.info.caPath),
      cert: await readFile(t.dc.info.cloud.certPath),
      key: await readFile(t.dc.info.cloud.keyPath),
      clientId: `${t.dc.info.cloud.clientId}-observer`,
      protocolVersion: 4,
    });
    try {
      await observer.subscribeAsync(late.topics.updateAccepted, { qos: 1 });
      const answered = new Promise<void>((resolve) => observer.once('message', () => resolve()));
      const updating = late.update({ reported: { r: 1 } });
      await answered;
      await late.subscribe();
      const accepted = await updating;
      expect(accepted.version).toBe(2); // the second copy, applied again (no version given: idempotent)
      expect(t.dc.store.get(key).state.reported).toEqual({ r: 1 });
    } finally {
      late.close();
      await observer.endAsync();
    }
  });
});
