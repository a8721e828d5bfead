/**
 * Binds a ShadowStore to an MQTT broker the way AWS IoT Core exposes the Device Shadow service:
 * requests on $aws/things/{thing}/shadow[/name/{shadow}]/get|update|delete, answers on /accepted or
 * /rejected, and /update/documents and /update/delta after every change, whoever made it (MQTT, REST,
 * or the devcloud's own rules), so a desired state written over REST reaches the device as a delta.
 */
import type { IClientPublishOptions, IPublishPacket, MqttClient } from 'mqtt';
import type { Logger } from '../../lib/log.js';
import { parseTokenRequest } from './document.js';
import { ShadowError } from './errors.js';
import type { DeleteAccepted, ShadowStore, UpdateResult } from './store.js';
import { REQUEST_FILTERS, parseRequestTopic, responseTopic, type ShadowKey, type ShadowOperation } from './topics.js';

export interface ShadowService {
  stop(): Promise<void>;
}

export interface ShadowServiceOptions {
  /** Connected with the devcloud's own identity, allowed to use every $aws/things/# topic. */
  client: MqttClient;
  store: ShadowStore;
  log?: Logger;
}

/** The MQTT request being handled while the store emits its event synchronously. */
interface InFlight {
  key: ShadowKey;
  correlationData?: Buffer;
}

function sameKey(a: ShadowKey, b: ShadowKey): boolean {
  return a.thing === b.thing && a.shadow === b.shadow;
}

export async function startShadowService(opts: ShadowServiceOptions): Promise<ShadowService> {
  const { client, store, log } = opts;
  let inFlight: InFlight | undefined;

  const publish = (topic: string, body: object, correlationData?: Buffer): void => {
    // Answers go to response topics only; a request topic here would feed the service its own output.
    if (parseRequestTopic(topic) !== undefined) throw new Error(`refusing to publish to request topic ${topic}`);
    const options: IClientPublishOptions = { qos: 1 };
    // MQTT 5: echo the request's correlation data so clients that correlate by it find their answer.
    if (correlationData !== undefined) options.properties = { correlationData };
    client.publish(topic, JSON.stringify(body), options, (err) => {
      if (err) log?.warn({ topic, err: err.message }, 'shadow response not published');
    });
  };

  const correlationFor = (key: ShadowKey): Buffer | undefined =>
    inFlight !== undefined && sameKey(inFlight.key, key) ? inFlight.correlationData : undefined;

  const onUpdated = (key: ShadowKey, result: UpdateResult): void => {
    publish(responseTopic(key, 'update', 'accepted'), result.accepted, correlationFor(key));
    publish(responseTopic(key, 'update', 'documents'), result.documents);
    if (result.delta !== undefined) publish(responseTopic(key, 'update', 'delta'), result.delta);
    log?.debug({ thing: key.thing, shadow: key.shadow, version: result.accepted.version, delta: result.delta !== undefined }, 'shadow updated');
  };

  const onDeleted = (key: ShadowKey, accepted: DeleteAccepted): void => {
    publish(responseTopic(key, 'delete', 'accepted'), accepted, correlationFor(key));
    log?.debug({ thing: key.thing, shadow: key.shadow, version: accepted.version }, 'shadow deleted');
  };

  const reject = (key: ShadowKey, operation: ShadowOperation, err: unknown, correlationData?: Buffer): void => {
    const shadowError = err instanceof ShadowError ? err : new ShadowError(500, 'Internal service failure');
    if (!(err instanceof ShadowError)) {
      log?.error({ thing: key.thing, shadow: key.shadow, operation, err: err instanceof Error ? err.message : String(err) }, 'shadow request failed');
    } else {
      log?.debug({ thing: key.thing, shadow: key.shadow, operation, code: err.code }, 'shadow request rejected');
    }
    publish(responseTopic(key, operation, 'rejected'), shadowError.toDocument(store.seconds()), correlationData);
  };

  const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
    const request = parseRequestTopic(topic);
    if (request === undefined) return;
    const { key, operation } = request;
    const correlationData = packet.properties?.correlationData;
    inFlight = correlationData === undefined ? { key } : { key, correlationData };
    try {
      if (operation === 'get') {
        publish(responseTopic(key, 'get', 'accepted'), store.get(key, parseTokenRequest(payload)), correlationData);
      } else if (operation === 'update') {
        store.update(key, payload);
      } else {
        store.delete(key, payload);
      }
    } catch (err) {
      reject(key, operation, err, correlationData);
    } finally {
      inFlight = undefined;
    }
  };

  store.on('updated', onUpdated);
  store.on('deleted', onDeleted);
  client.on('message', onMessage);

  try {
    const granted = await client.subscribeAsync(REQUEST_FILTERS.map((topic) => topic), { qos: 1 });
    const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
    if (refused.length > 0) {
      throw new Error(
        `the broker refused the shadow service's subscriptions to ${refused.join(', ')}: connect it with the devcloud identity, whose ACL grants $aws/things/#`,
      );
    }
  } catch (err) {
    store.off('updated', onUpdated);
    store.off('deleted', onDeleted);
    client.off('message', onMessage);
    throw err;
  }
  log?.info({ filters: REQUEST_FILTERS.length }, 'shadow service listening');

  return {
    async stop(): Promise<void> {
      store.off('updated', onUpdated);
      store.off('deleted', onDeleted);
      client.off('message', onMessage);
      if (client.connected) {
        await client.unsubscribeAsync(REQUEST_FILTERS.map((topic) => topic)).catch((err: unknown) => {
          log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'shadow service unsubscribe failed');
        });
      }
    },
  };
}
