import type { AgentConnection } from '../../connection.js';
import type { Feature } from '../../feature.js';
import type { Logger } from '../../../lib/log.js';
import { JobsClient, type JobsLink } from './client.js';
import { createJobEngine } from './engine.js';
import type { JobOperation } from './operation.js';

/**
 * AWS IoT Jobs (docs/protocol.md, "Jobs"), glue only: the MQTT request/reply client (client.ts),
 * the one-at-a-time engine (engine.ts) and the operations it runs, each a JobOperation.
 */
export interface JobsFeature extends Feature {
  /** Resolves when no jobs round is running (tests). */
  idle(): Promise<void>;
}

/** How long stop() lets a running operation finish reporting after it was aborted. */
const STOP_GRACE_MS = 5000;

export function createJobsFeature(opts: {
  connection: AgentConnection;
  thing: string;
  operations: readonly JobOperation[];
  stepTimeoutMinutes: number;
  log: Logger;
  replyTimeoutMs?: number;
  /** Also stopped with the feature (e.g. the operations' own clients). */
  onStop?: () => void;
}): JobsFeature {
  const { connection } = opts;
  const log = opts.log.child({ feature: 'jobs' });
  const link: JobsLink = {
    publish: (topic, payload, o) => connection.publish(topic, payload, o),
    subscribe: (topics, qos) => connection.subscribe(topics, qos),
    unsubscribe: async (topics) => void (await connection.client.unsubscribeAsync(topics)),
    on: (event, listener) => connection.on(event, listener),
    off: (event, listener) => connection.off(event, listener),
  };
  const client = new JobsClient(link, opts.thing, opts.replyTimeoutMs);
  const engine = createJobEngine({ client, operations: opts.operations, stepTimeoutMinutes: opts.stepTimeoutMinutes, isConnected: () => connection.connected, log });
  return {
    name: 'jobs',
    async start() {},
    async onConnected() {
      try {
        await engine.onConnected();
      } catch (err) {
        log.warn({ event: 'jobs.connect-failed', err: (err as Error).message }, `could not subscribe to the Jobs topics: ${(err as Error).message}`);
      }
    },
    idle: () => engine.idle(),
    async stop() {
      await engine.stop(STOP_GRACE_MS);
      opts.onStop?.();
    },
  };
}
