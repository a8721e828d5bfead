import { releaseBuffer } from '../../../lib/release-buffer.js';
import { eventKey, type UploadGrant } from '../../../protocol/upload-grant.js';
import type { UploadOutcome } from '../events/uploader.js';
import type { QueuedEvent } from '../events/queue.js';
import type { JobOperation, JobOutcome } from './operation.js';

/**
 * `cloudcam.snapshot`: a diagnostics snapshot for an operator. Captures a JPEG and uploads it with
 * the standing upload grant (`desired.uploadGrant`) under `{thing}/events/…-diagnostics.jpg`, the
 * event snapshots' path and checks; statusDetails carries the key. Without a valid grant it fails
 * with that reason rather than waiting for one indefinitely.
 */
export const SNAPSHOT_OPERATION = 'cloudcam.snapshot';
export const DIAGNOSTICS_TRIGGER = 'diagnostics';

export interface DiagnosticsSnapshotDeps {
  thing: string;
  /** A usable grant, asking the cloud for one and waiting a bounded time if there is none. */
  grant(signal: AbortSignal): Promise<UploadGrant | undefined>;
  capture(signal: AbortSignal): Promise<Buffer>;
  upload(grant: UploadGrant, entry: QueuedEvent, jpeg: Buffer, signal: AbortSignal): Promise<UploadOutcome>;
  now?: () => Date;
}

export function createSnapshotOperation(deps: DiagnosticsSnapshotDeps): JobOperation {
  const now = deps.now ?? (() => new Date());
  return {
    name: SNAPSHOT_OPERATION,
    async run(job): Promise<JobOutcome> {
      const grant = await deps.grant(job.signal);
      if (!grant) return { status: 'FAILED', details: { reason: 'no valid upload grant (desired.uploadGrant in the named shadow) arrived; check that the cloud handler issues grants, then create the job again' } };
      const jpeg = await deps.capture(job.signal);
      const at = now();
      const key = eventKey(deps.thing, DIAGNOSTICS_TRIGGER, at);
      const entry: QueuedEvent = { seq: 0, key, trigger: DIAGNOSTICS_TRIGGER, topic: `job:${job.jobId}`, eventTime: at.toISOString(), bytes: jpeg.length };
      const outcome = await deps.upload(grant, entry, jpeg, job.signal);
      if (!outcome.ok) return { status: 'FAILED', details: { reason: `upload failed: ${outcome.error}`, key } };
      const bytes = jpeg.length;
      // Uploaded, and the connection is done with it: nothing else holds this JPEG (release-buffer.ts).
      releaseBuffer(jpeg);
      return { status: 'SUCCEEDED', details: { key, bytes: String(bytes), uploadMs: String(Math.round(outcome.ms)) } };
    },
  };
}
