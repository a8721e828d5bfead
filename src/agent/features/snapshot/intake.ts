import type { Logger } from '../../../lib/log.js';
import type { ShadowClient } from '../../../protocol/shadow-client.js';
import { parseSnapshotRequest } from '../../../protocol/snapshot.js';
import type { DuplicateGuard } from './duplicates.js';
import type { Job, SnapshotQueue } from './queue.js';
import { finalReport, type Reporter } from './reporter.js';

/**
 * Taking requests in: a `desired.snapshot` value from a shadow GET or a delta is parsed, a known id
 * goes to the duplicate guard, a malformed one is rejected (or, without a usable id, cleared), and
 * a new one goes to the queue, where it may supersede a waiting one. A shadow read that fails is
 * repeated (resync), not left until the next connect.
 */
export interface Intake {
  offer(raw: unknown, source: 'get' | 'delta'): void;
  /** Reads the shadow and takes the request it holds. */
  refresh(why: string): Promise<void>;
  /** True after a failed read, until a read succeeds. */
  readonly readFailed: boolean;
  /** Takes nothing more in. */
  stop(): void;
}

export function createIntake(opts: {
  shadow: Pick<ShadowClient, 'get' | 'update' | 'version'>;
  queue: Pick<SnapshotQueue, 'offer'>;
  duplicates: Pick<DuplicateGuard, 'known'>;
  reporter: Pick<Reporter, 'finish'>;
  log: Logger;
  now: () => Date;
  /** A read failed: read again soon (resync). */
  onReadFailed: () => void;
  /** How soon a failed read is repeated, for the log line. */
  retryMs: number;
}): Intake {
  const { shadow, log } = opts;
  let readFailed = false;
  let stopped = false;

  function offer(raw: unknown, source: 'get' | 'delta'): void {
    if (raw === undefined || raw === null || stopped) return;
    const receivedAt = Date.now();
    const parsed = parseSnapshotRequest(raw);
    if (!parsed.ok && source === 'delta') {
      // A delta carries only the desired keys that differ from reported; when the request's id equals
      // the reported one (a replay) it is missing. Read the whole document before judging.
      void refresh('incomplete delta');
      return;
    }
    const id = parsed.ok ? parsed.value.id : parsed.id;
    if (id === undefined) {
      log.warn({ event: 'snapshot.malformed', error: parsed.ok ? '' : parsed.error }, 'ignored a malformed snapshot request without a usable id; clearing it');
      shadow.update({ desired: { snapshot: null } }, shadow.version !== undefined ? { version: shadow.version } : {}).catch(() => undefined);
      return;
    }
    const job: Job = { request: parsed.ok ? parsed.value : { id, url: '', fields: {}, expiresAt: '', maxBytes: 0 }, receivedAt };
    if (opts.duplicates.known(job, source)) return;
    if (!parsed.ok) {
      void opts.reporter.finish(finalReport(job, 'rejected', opts.now(), { error: parsed.error }));
      return;
    }
    log.info({ event: 'snapshot.received', id, source }, 'snapshot request received');
    opts.queue.offer(job);
  }

  async function refresh(why: string): Promise<void> {
    try {
      const doc = await shadow.get();
      readFailed = false;
      offer(doc?.state.desired?.['snapshot'], 'get');
    } catch (err) {
      readFailed = true;
      opts.onReadFailed();
      log.warn({ event: 'shadow.get-failed', why, err: (err as Error).message }, `could not read the shadow; reading it again in ${opts.retryMs / 1000} s`);
    }
  }

  return {
    offer,
    refresh,
    get readFailed() {
      return readFailed;
    },
    stop() {
      stopped = true;
    },
  };
}
