import { CloudClock } from '../../../protocol/cloud-clock.js';
import { ShadowClient } from '../../../protocol/shadow-client.js';
import { supersededReason, type SnapshotReport } from '../../../protocol/snapshot.js';
import type { Feature, FeatureContext } from '../../feature.js';
import type { RequestJournal } from '../../request-journal.js';
import { createCaptureStep } from '../pipeline/capture.js';
import { createUploadStep } from '../pipeline/upload.js';
import { createDuplicateGuard } from './duplicates.js';
import { createIntake } from './intake.js';
import { createSnapshotQueue } from './queue.js';
import { createReporter, finalReport } from './reporter.js';
import { createRequestSteps } from './uploader.js';

/**
 * Snapshot: the shadow-driven loop, glue only. On every connect it subscribes to its named shadow and
 * GETs it, so a request written while it was offline is served. A request (from the GET or a delta)
 * is taken in (intake.ts; known ids: duplicates.ts), waits in a one-slot queue (queue.ts), goes
 * through the steps validate → capture → upload (uploader.ts, with the shared pipeline/ steps), and
 * is answered with one shadow update that writes `reported.snapshot` and clears `desired.snapshot`
 * (reporter.ts). One snapshot at a time; a newer request supersedes a waiting older one; an id is
 * handled at most once (RequestJournal).
 */
export interface SnapshotEvents {
  /** Every final status, after it was reported (or reporting failed). For tests and `make run`. */
  onReport?: (report: SnapshotReport) => void;
}

export interface SnapshotFeature extends Feature {
  /** Resolves when nothing is in flight or queued. */
  idle(): Promise<void>;
}

/** How soon a lost report or a failed shadow read is tried again while connected. */
export const RESYNC_MS = 3_000;
/** How long a stop waits for an in-flight snapshot before abandoning it (and reporting it failed). */
export const STOP_GRACE_MS = 5_000;
/** Upload attempts on S3 5xx/throttling and network errors, while the presigned POST is still valid. */
const UPLOAD_ATTEMPTS = 4;

export function createSnapshotFeature(
  ctx: FeatureContext,
  opts: { journal: RequestJournal; events?: SnapshotEvents | undefined; stopGraceMs?: number; resyncMs?: number },
): SnapshotFeature {
  const { connection, config, log, now } = ctx;
  const settings = config.snapshot;
  const resyncMs = opts.resyncMs ?? RESYNC_MS;
  // Expiry is judged by the cloud's clock (S3 judges it by its own); the device clock may be off.
  const clock = new CloudClock(
    () => now().getTime(),
    (offsetMs) =>
      log.warn(
        { event: 'clock.offset', offsetSeconds: Math.round(offsetMs / 1000) },
        `the device clock is ${Math.abs(Math.round(offsetMs / 1000))} s ${offsetMs < 0 ? 'ahead of' : 'behind'} the cloud's: check the camera's NTP (cloudcam setup ntp); request expiry is judged by the cloud's clock meanwhile`,
      ),
  );
  const shadow = new ShadowClient(connection, ctx.thing, config.shadowName, undefined, clock);
  const abort = new AbortController();
  const upload = createUploadStep({ target: { allowedHosts: settings.allowedUploadHosts, insecureHttpHosts: settings.insecureHttpUploadHosts }, timeoutMs: settings.uploadTimeoutMs, pools: 4 });
  const steps = createRequestSteps({
    clock,
    capture: createCaptureStep(ctx.camera, settings),
    upload,
    journal: opts.journal,
    log,
    maxBytes: settings.maxBytes,
    uploadAttempts: UPLOAD_ATTEMPTS,
    signal: abort.signal,
    now,
  });

  // A report that did not reach the shadow, or a shadow read that failed, must not wait for a next
  // connect that may never come: while connected, both are tried again every resyncMs.
  let resyncTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  function scheduleResync(): void {
    if (resyncTimer || stopping) return;
    resyncTimer = setTimeout(() => {
      resyncTimer = undefined;
      void resync();
    }, resyncMs);
    resyncTimer.unref();
  }
  async function resync(): Promise<void> {
    if (stopping || !connection.connected) return; // onConnected resyncs
    await reporter.retryUnreported();
    if (intake.readFailed) await intake.refresh('resync');
    if (reporter.unreported > 0 || intake.readFailed) scheduleResync();
  }

  const queue = createSnapshotQueue({
    run: async (job) => reporter.finish(await steps(job)),
    onSuperseded: (old, by) => {
      log.info({ event: 'snapshot.superseded', id: old.request.id, by: by.request.id }, 'a newer request supersedes a queued one');
      reporter.superseded(finalReport(old, 'rejected', now(), { error: supersededReason(by.request.id) }));
    },
    onCrash: (job, err) => log.error({ event: 'snapshot.crashed', id: job.request.id, err: (err as Error).message }, 'snapshot handling failed unexpectedly'),
  });
  const reporter = createReporter({ shadow, journal: opts.journal, log, newerWaiting: () => queue.hasWaiting(), onUnreported: scheduleResync, retryMs: resyncMs, onReport: opts.events?.onReport });
  const duplicates = createDuplicateGuard({ journal: opts.journal, queue, reporter, log, now });
  const intake = createIntake({ shadow, queue, duplicates, reporter, log, now, onReadFailed: scheduleResync, retryMs: resyncMs });
  const onDelta = (state: Record<string, unknown>): void => intake.offer(state['snapshot'], 'delta');

  return {
    name: 'snapshot',
    async start() {
      shadow.on('delta', onDelta);
    },
    async onConnected() {
      try {
        await shadow.subscribe();
      } catch (err) {
        log.error({ event: 'shadow.subscribe-failed', err: (err as Error).message }, 'could not subscribe to the shadow topics');
        return;
      }
      await intake.refresh('connected');
      duplicates.reportInterrupted();
      if (reporter.unreported > 0) await resync();
    },
    async stop() {
      stopping = true;
      intake.stop();
      clearTimeout(resyncTimer);
      shadow.off('delta', onDelta);
      await queue.stop(opts.stopGraceMs ?? STOP_GRACE_MS, () => abort.abort());
      shadow.close();
      upload.close();
    },
    idle: () => queue.idle(),
  };
}
