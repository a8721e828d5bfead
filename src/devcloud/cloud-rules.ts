import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import type { Logger } from '../lib/log.js';
import type { CloudHandler, CloudEvent, HandleResult } from '../cloud/handler.js';
import { PRESENCE_FILTER, SNAPSHOT_REQUEST_FILTER, thingOfCloudcamTopic } from '../protocol/topics.js';
import { parsePresence } from '../protocol/snapshot.js';
import type { ShadowStore } from './shadow/store.js';

/**
 * devcloud's stand-in for the AWS IoT topic rules of the deployed stack:
 *  - presence `online` and snapshot requests invoke the cloud handler (the Lambda);
 *  - presence is republished into the shadow as `reported.connected` (and `reported.agentVersion`, for
 *    the viewer), because AWS ignores wills published to `$aws/...` topics, so a rule is how the
 *    shadow learns a camera went offline.
 */
export interface CloudRules extends EventEmitter<{ handled: [HandleResult]; error: [Error, CloudEvent] }> {
  stop(): Promise<void>;
}

export async function startCloudRules(opts: {
  client: MqttClient;
  handler: CloudHandler;
  store: ShadowStore;
  shadowName: string;
  log: Logger;
}): Promise<CloudRules> {
  const { client, handler, store, shadowName, log } = opts;
  const emitter = new EventEmitter() as CloudRules;
  const inFlight = new Set<Promise<unknown>>();

  function invoke(event: CloudEvent): void {
    const p = handler
      .handle(event)
      .then((result) => {
        if (result.action === 'requested') log.info({ thing: result.thing, id: result.request.id, key: result.key, trigger: event.kind }, 'snapshot requested');
        if (result.action === 'granted') log.info({ thing: result.thing, prefix: result.grant.keyPrefix, expiresAt: result.grant.expiresAt }, 'upload grant issued');
        emitter.emit('handled', result);
      })
      .catch((err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        log.error({ thing: event.thing, err: error.message }, 'cloud handler failed');
        emitter.emit('error', error, event);
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }

  const onMessage = (topic: string, payload: Buffer): void => {
    const thing = thingOfCloudcamTopic(topic);
    if (!thing) return;
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      log.warn({ thing, topic }, 'ignored a message that is not JSON');
      return;
    }
    if (topic.endsWith('/presence')) {
      const presence = parsePresence(body);
      if (!presence) {
        log.warn({ thing }, 'ignored a presence message of the wrong shape');
        return;
      }
      try {
        store.update({ thing, shadow: shadowName }, JSON.stringify({ state: { reported: { connected: presence.state === 'online', agentVersion: presence.agentVersion } } }));
      } catch (err) {
        log.warn({ thing, err: (err as Error).message }, 'could not republish presence into the shadow');
      }
      invoke({ kind: 'presence', thing, state: presence.state });
    } else if (topic.endsWith('/snapshot/request')) {
      const reason = typeof body === 'object' && body !== null && typeof (body as { reason?: unknown }).reason === 'string' ? (body as { reason: string }).reason : undefined;
      invoke({ kind: 'snapshot', thing, ...(reason !== undefined ? { reason } : {}) });
    }
  };

  client.on('message', onMessage);
  await client.subscribeAsync([PRESENCE_FILTER, SNAPSHOT_REQUEST_FILTER], { qos: 1 });

  emitter.stop = async () => {
    client.off('message', onMessage);
    await Promise.allSettled([...inFlight]);
  };
  return emitter;
}
