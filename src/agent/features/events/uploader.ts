import { S3UploadError } from '../../../protocol/s3-post.js';
import { grantUploadFields, type UploadGrant } from '../../../protocol/upload-grant.js';
import type { UploadTargetPolicy } from '../../upload-target.js';
import { createUploadStep, uploadErrorMessage } from '../pipeline/upload.js';
import type { QueuedEvent } from './queue.js';

/**
 * Uploads one queued event with the grant: the key and metadata are checked against the grant first
 * (a key outside its prefix is never sent), then the shared upload step (pipeline/upload.ts) checks
 * the URL against the upload allow-list and SSRF checks and pins the connection to the checked
 * address, as for requested snapshots. One attempt: the queue is the retry.
 */
export type UploadOutcome =
  | { ok: true; ms: number }
  /** Will not succeed with any grant: drop the entry. */
  | { ok: false; permanent: true; error: string }
  /** S3 refused the grant (expired, revoked): keep the entry, get a new grant. */
  | { ok: false; grantRefused: true; error: string }
  /** Try again later (network, 5xx, throttling, no connection). */
  | { ok: false; retry: true; error: string };

export function createEventUploader(opts: { target: UploadTargetPolicy; timeoutMs: number }) {
  const step = createUploadStep({ target: opts.target, timeoutMs: opts.timeoutMs, pools: 1 });
  async function upload(grant: UploadGrant, entry: QueuedEvent, jpeg: Buffer, signal?: AbortSignal): Promise<UploadOutcome> {
    let fields: Record<string, string>;
    try {
      fields = grantUploadFields(grant, entry.key, {
        trigger: entry.trigger,
        topic: entry.topic,
        time: entry.eventTime,
        frameTime: entry.frameTime ?? entry.eventTime,
        timeSource: entry.timeSource ?? 'camera',
        source: entry.source ?? {},
        data: entry.data ?? {},
      });
    } catch (err) {
      return { ok: false, permanent: true, error: (err as Error).message };
    }
    if (jpeg.length > grant.maxBytes) return { ok: false, permanent: true, error: `the picture has ${jpeg.length} bytes; the grant allows ${grant.maxBytes}` };
    const target = await step.check(grant.url);
    if (!target.ok) return { ok: false, grantRefused: true, error: target.error };
    try {
      const r = await step.send({ url: grant.url, fields }, jpeg, target, { signal });
      return { ok: true, ms: r.ms };
    } catch (err) {
      const error = uploadErrorMessage(err);
      if (err instanceof S3UploadError && !err.retryable && (err.status === 403 || err.status === 400)) return { ok: false, grantRefused: true, error };
      return { ok: false, retry: true, error };
    }
  }
  return { upload, close: () => step.close() };
}
