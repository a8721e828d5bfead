import type { Logger } from '../../../lib/log.js';
import { releaseBuffer } from '../../../lib/release-buffer.js';
import { CloudClock } from '../../../protocol/cloud-clock.js';
import type { SnapshotReport } from '../../../protocol/snapshot.js';
import type { RequestJournal } from '../../request-journal.js';
import type { CaptureStep } from '../pipeline/capture.js';
import { uploadErrorMessage, type CheckedAddress, type UploadStep } from '../pipeline/upload.js';
import type { Job } from './queue.js';
import { finalReport } from './reporter.js';

/**
 * One requested snapshot through the shared steps: validate (expiry by the cloud's clock, the upload
 * target, the size cap; then the id is journalled as started, before the camera is touched) →
 * capture → upload (retried within the presigned POST's validity). Returns the final status for the
 * reporter; never throws.
 */
export type RequestSteps = (job: Job) => Promise<SnapshotReport>;

export function createRequestSteps(opts: {
  clock: Pick<CloudClock, 'now' | 'offsetMs'>;
  capture: CaptureStep;
  upload: UploadStep;
  journal: Pick<RequestJournal, 'begin'>;
  log: Logger;
  /** snapshot.maxBytes: a request may ask for less, never for more. */
  maxBytes: number;
  /** Upload attempts on S3 5xx/throttling and network errors, while the presigned POST is valid. */
  uploadAttempts: number;
  /** Aborted when a stop abandons the snapshot in hand. */
  signal: AbortSignal;
  now: () => Date;
}): RequestSteps {
  const { clock, journal, log, signal } = opts;
  const final = (job: Job, status: SnapshotReport['status'], extra?: { bytes?: number; error?: string }): SnapshotReport => finalReport(job, status, opts.now(), extra);

  /** The checked upload address, or the final status that ends the request here. */
  async function validate(job: Job): Promise<CheckedAddress | SnapshotReport> {
    const { request } = job;
    if (clock.now() >= Date.parse(request.expiresAt)) {
      const skew = Math.abs(clock.offsetMs) >= CloudClock.LARGE_OFFSET_MS ? ` (cloud time; the device clock is off by ${Math.round(clock.offsetMs / 1000)} s)` : '';
      return final(job, 'expired', { error: `the presigned POST expired at ${request.expiresAt} before the agent got to it${skew}` });
    }
    const target = await opts.upload.check(request.url);
    if (!target.ok) return final(job, 'rejected', { error: target.error });
    if (request.maxBytes > opts.maxBytes) {
      log.info({ event: 'snapshot.capped', id: request.id }, `request allows ${request.maxBytes} bytes; capping capture at snapshot.maxBytes ${opts.maxBytes}`);
    }
    try {
      await journal.begin(request.id, request.fields['key'] ?? null);
    } catch (err) {
      return final(job, 'failed', { error: (err as Error).message });
    }
    return target;
  }

  return async (job) => {
    const { request } = job;
    const target = await validate(job);
    if ('status' in target) return target;
    log.debug({ event: 'snapshot.capturing', id: request.id }, 'capturing');
    let jpeg: Buffer;
    try {
      jpeg = await opts.capture({ resolution: request.resolution, compression: request.compression, maxBytes: request.maxBytes }, signal);
    } catch (err) {
      return final(job, 'failed', { error: signal.aborted ? 'agent stopped during capture' : `camera: ${(err as Error).message}` });
    }
    try {
      await opts.upload.send({ url: request.url, fields: request.fields }, jpeg, target, {
        filename: `${request.id}.jpg`,
        signal,
        retry: {
          attempts: opts.uploadAttempts,
          until: Date.parse(request.expiresAt),
          now: () => clock.now(),
          onRetry: (attempt, err) => log.warn({ event: 'upload.retry', id: request.id, attempt, err: err.message }, 'upload failed; retrying'),
        },
      });
    } catch (err) {
      return final(job, 'failed', { bytes: 0, error: signal.aborted ? 'agent stopped during upload' : `upload: ${uploadErrorMessage(err)}` });
    }
    const bytes = jpeg.length;
    // Uploaded, and the connection is done with it: nothing else holds this JPEG (release-buffer.ts).
    releaseBuffer(jpeg);
    return final(job, 'uploaded', { bytes });
  };
}
