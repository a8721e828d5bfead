import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../../lib/log.js';
import type { AgentConnection } from '../connection.js';
import type { Feature } from '../feature.js';
import { snapshotRequestTopic } from '../../protocol/topics.js';
import type { SnapshotRequestMessage } from '../../protocol/snapshot.js';

/**
 * Schedule: asks the cloud for a snapshot on a cron schedule by publishing to
 * `cloudcam/{thing}/snapshot/request`; the cloud answers with a presigned POST in the shadow.
 * While disconnected a tick is skipped (and logged), not queued: the next tick asks again.
 */
export function createScheduleFeature(opts: { connection: AgentConnection; thing: string; cron: string; timezone?: string; log: Logger }): Feature {
  const { connection, thing, log } = opts;
  const topic = snapshotRequestTopic(thing);
  let task: ScheduledTask | undefined;

  const tick = async (): Promise<void> => {
    if (!connection.connected) {
      log.info({ event: 'schedule.skipped' }, 'scheduled snapshot skipped: not connected');
      return;
    }
    const msg: SnapshotRequestMessage = { reason: 'schedule', at: new Date().toISOString() };
    try {
      await connection.publish(topic, JSON.stringify(msg), { qos: 1 });
      log.debug({ event: 'schedule.requested' }, 'scheduled snapshot requested');
    } catch (err) {
      log.warn({ event: 'schedule.failed', err: (err as Error).message }, 'could not publish the scheduled snapshot request');
    }
  };

  return {
    name: 'schedule',
    async start() {
      if (opts.cron === '') return;
      task = cron.schedule(opts.cron, tick, { ...(opts.timezone ? { timezone: opts.timezone } : {}), noOverlap: true, name: `snapshot-${thing}` });
      log.info({ event: 'schedule.started', cron: opts.cron }, 'snapshot schedule started');
    },
    async stop() {
      await task?.destroy();
      task = undefined;
    },
  };
}
