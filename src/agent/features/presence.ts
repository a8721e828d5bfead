import type { Feature, FeatureContext } from '../feature.js';
import { presenceTopic } from '../../protocol/topics.js';
import type { PresenceMessage } from '../../protocol/snapshot.js';

export function presenceMessage(state: PresenceMessage['state'], agentVersion: string, now = new Date()): string {
  const msg: PresenceMessage = { state, at: now.toISOString(), agentVersion };
  return JSON.stringify(msg);
}

/**
 * Presence: `online` on every (re)connect, after the other features are ready for requests; `offline` through the last will (set when the connection
 * is created, see main.ts) and, on a clean stop, as the connection's final message.
 */
export function createPresenceFeature(ctx: FeatureContext): Feature {
  const { connection, thing, version: agentVersion, log } = ctx;
  const topic = presenceTopic(thing);
  return {
    name: 'presence',
    async start() {},
    async onConnected() {
      try {
        await connection.publish(topic, presenceMessage('online', agentVersion), { qos: 1 });
        log.info({ event: 'presence.online' }, 'published presence online');
      } catch (err) {
        log.warn({ event: 'presence.failed', err: (err as Error).message }, 'could not publish presence online; it is sent again on the next connect');
      }
    },
    async stop() {},
  };
}
