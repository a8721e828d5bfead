import type { Logger } from '../../../lib/log.js';
import type { RequestJournal } from '../../request-journal.js';
import type { Job, SnapshotQueue } from './queue.js';
import { finalReport, type Reporter } from './reporter.js';

/**
 * At most once per request id, also across restarts (the request journal): an id that was handled,
 * is in hand, or was interrupted by a crash is never captured or uploaded again.
 */
export interface DuplicateGuard {
  /**
   * True when the id is known (the caller drops the request). When it still (or again) sits in
   * desired, its report did not reach the shadow, or it is a replay: the journalled report is sent
   * again, clearing desired only if it still holds this id. An id journalled as started but never
   * finished (the agent stopped mid-way) ends as failed, never as a second upload.
   */
  known(job: Job, source: 'get' | 'delta'): boolean;
  /**
   * Requests a previous run was handling when it died, that are no longer in desired (the cloud
   * replaced them with a newer request meanwhile), would otherwise never get a final status: each
   * is reported failed, once, after the first shadow read (which finishes those still in desired).
   */
  reportInterrupted(): void;
}

export const INTERRUPTED = 'interrupted: the agent restarted while handling this request; request a new snapshot';

export function createDuplicateGuard(opts: {
  journal: Pick<RequestJournal, 'get' | 'interrupted'>;
  queue: Pick<SnapshotQueue, 'holds'>;
  reporter: Pick<Reporter, 'finish' | 'resend'>;
  log: Logger;
  now: () => Date;
}): DuplicateGuard {
  const { journal, queue, reporter, log } = opts;
  let interruptedToReport = [...journal.interrupted];
  const failInterrupted = (job: Job): void => void reporter.finish(finalReport(job, 'failed', opts.now(), { error: INTERRUPTED }), true);

  return {
    known(job, source) {
      const { id } = job.request;
      const entry = journal.get(id);
      const inHand = queue.holds(id);
      if (!entry && !inHand) return false;
      if (entry?.state === 'done' && entry.report) {
        log.info({ event: 'snapshot.duplicate', id, source }, 'request already handled; re-sending its report');
        reporter.resend(entry.report);
      } else if (entry?.state === 'started' && !inHand) {
        failInterrupted(job);
      } else {
        log.debug({ event: 'snapshot.duplicate', id, source }, 'ignored a request already in hand');
      }
      return true;
    },
    reportInterrupted() {
      const ids = interruptedToReport;
      interruptedToReport = [];
      for (const id of ids) {
        const entry = journal.get(id);
        if (entry?.state !== 'started' || queue.holds(id)) continue;
        log.info({ event: 'snapshot.interrupted', id }, 'a request the agent was handling when it last stopped is no longer pending; reporting it failed');
        failInterrupted({ request: { id, url: '', fields: entry.key ? { key: entry.key } : {}, expiresAt: '', maxBytes: 0 }, receivedAt: Date.now() });
      }
    },
  };
}
