import type { Logger } from '../../../lib/log.js';
import { ShadowRequestError, type ShadowClient } from '../../../protocol/shadow-client.js';
import type { SnapshotReport, SnapshotStatus } from '../../../protocol/snapshot.js';
import type { RequestJournal } from '../../request-journal.js';
import type { Job } from './queue.js';

/**
 * Reporting: every final status is journalled, then written to `reported.snapshot` while
 * `desired.snapshot` is cleared, but only while desired still holds that request. A report that does
 * not reach the shadow is kept and sent again (resync, and after every connect) until it does.
 */
export interface Reporter {
  /** Journals, reports and logs a final status; `verify` reads the shadow before clearing desired. */
  finish(rep: SnapshotReport, verify?: boolean): Promise<void>;
  /** Sends a journalled report again (a replayed request), clearing desired only if it still holds this id. */
  resend(rep: SnapshotReport): void;
  /** A waiting request replaced by a newer one: journalled and reported, desired left alone (it holds the newer one). */
  superseded(rep: SnapshotReport): void;
  /** Sends again every report that has not reached the shadow yet. */
  retryUnreported(): Promise<void>;
  /** How many reports have not reached the shadow yet. */
  readonly unreported: number;
}

/** The shadow updates a report needs; a ShadowClient, or the test's fake link behind a real one. */
export type ReportShadow = Pick<ShadowClient, 'get' | 'update' | 'version'>;

const REPORT_TRIES = 4;

/** A final status for a job; `ms` counts from when the request arrived. */
export function finalReport(job: Job, status: SnapshotStatus, at: Date, extra: { bytes?: number; error?: string | null } = {}): SnapshotReport {
  return {
    id: job.request.id,
    status,
    bytes: extra.bytes ?? 0,
    key: job.request.fields['key'] ?? null,
    ms: Date.now() - job.receivedAt,
    error: extra.error ?? null,
    at: at.toISOString(),
  };
}

export function createReporter(opts: {
  shadow: ReportShadow;
  journal: Pick<RequestJournal, 'finish'>;
  log: Logger;
  /** True while a newer request waits: desired holds it, so a report must not clear desired. */
  newerWaiting: () => boolean;
  /** A report did not reach the shadow: retry it soon (resync). */
  onUnreported: () => void;
  /** How soon unreported reports are retried, for the log line. */
  retryMs: number;
  /** Every final status, after it was reported (or reporting failed). */
  onReport?: ((report: SnapshotReport) => void) | undefined;
}): Reporter {
  const { shadow, journal, log } = opts;
  /** Finished requests whose report did not reach the shadow yet; retried until it does. */
  const unreported = new Map<string, SnapshotReport>();

  /**
   * Writes the report and clears desired.snapshot, but only while desired still holds this request:
   * the clear is conditional on the version at which we last knew the desired state, and on a 409
   * (or when `verify` asks for it) the shadow is read again first. A newer request is never wiped.
   */
  async function report(rep: SnapshotReport, verify: boolean): Promise<void> {
    for (let attempt = 1; attempt <= REPORT_TRIES; attempt++) {
      let version = shadow.version;
      let clear = !opts.newerWaiting();
      if (verify) {
        const doc = await shadow.get();
        version = doc?.version;
        const pending = doc?.state.desired?.['snapshot'];
        clear = typeof pending === 'object' && pending !== null && (pending as { id?: unknown }).id === rep.id;
      }
      const state = clear ? { reported: { snapshot: rep }, desired: { snapshot: null } } : { reported: { snapshot: rep } };
      try {
        await shadow.update(state, clear && version !== undefined ? { version } : {});
        return;
      } catch (err) {
        if (!(err instanceof ShadowRequestError && err.code === 409)) throw err;
        verify = true;
      }
    }
    throw new Error(`the shadow kept changing while reporting; gave up after ${REPORT_TRIES} tries`);
  }

  return {
    get unreported() {
      return unreported.size;
    },
    async finish(rep, verify = false) {
      try {
        await journal.finish(rep);
      } catch (err) {
        log.error({ event: 'journal.failed', id: rep.id, err: (err as Error).message }, 'could not journal a finished request');
      }
      try {
        await report(rep, verify);
        const level = rep.status === 'uploaded' ? 'info' : 'warn';
        log[level]({ event: `snapshot.${rep.status}`, id: rep.id, key: rep.key, bytes: rep.bytes, ms: rep.ms, ...(rep.error ? { error: rep.error } : {}) }, `snapshot ${rep.status}`);
      } catch (err) {
        unreported.set(rep.id, rep);
        opts.onUnreported();
        log.error({ event: 'snapshot.report-failed', id: rep.id, err: (err as Error).message }, `could not report the snapshot status; retrying in ${opts.retryMs / 1000} s and after every connect`);
      }
      opts.onReport?.(rep);
    },
    resend(rep) {
      report(rep, true).catch((err: unknown) => log.warn({ event: 'snapshot.report-failed', id: rep.id, err: (err as Error).message }, 'could not re-send a report'));
    },
    superseded(rep) {
      void journal.finish(rep).catch(() => undefined);
      shadow.update({ reported: { snapshot: rep } }).catch(() => undefined);
      opts.onReport?.(rep);
    },
    async retryUnreported() {
      for (const rep of [...unreported.values()]) {
        try {
          await report(rep, true);
          unreported.delete(rep.id);
          log.info({ event: 'snapshot.reported-late', id: rep.id, status: rep.status }, 'reported a snapshot status that had not reached the shadow');
        } catch (err) {
          log.warn({ event: 'snapshot.report-failed', id: rep.id, err: (err as Error).message }, 'could not report the snapshot status yet; retrying');
        }
      }
    },
  };
}
