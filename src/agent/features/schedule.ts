import cron, { type ScheduledTask } from 'node-cron';
import type { Feature, FeatureContext } from '../feature.js';
import { snapshotRequestTopic } from '../../protocol/topics.js';
import type { SnapshotRequestMessage } from '../../protocol/snapshot.js';

/**
 * Schedule: asks the cloud for a snapshot on a cron schedule by publishing to
 * `cloudcam/{thing}/snapshot/request`; the cloud answers with a presigned POST in the shadow.
 * While disconnected a tick is skipped (and logged), not queued: the next tick asks again.
 */
export function createScheduleFeature(ctx: FeatureContext): Feature {
  const { connection, thing, log } = ctx;
  const { cron: expression, timezone } = ctx.config.schedule;
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
      if (expression === '') return;
      task = cron.schedule(expression, tick, { timezone: timezone || undefined, noOverlap: true, name: `snapshot-${thing}` });
      log.info({ event: 'schedule.started', cron: expression }, 'snapshot schedule started');
    },
    async stop() {
      await task?.destroy();
      task = undefined;
    },
  };
}
