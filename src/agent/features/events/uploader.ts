import { uploadPresignedPost, S3UploadError } from '../../../protocol/s3-post.js';
import { grantUploadFields, type UploadGrant } from '../../../protocol/upload-grant.js';
import { pinnedPools, resolveUploadTarget, type UploadTargetPolicy } from '../../upload-target.js';
import type { QueuedEvent } from './queue.js';

/**
 * Uploads one queued event with the grant: the key and metadata are checked against the grant first
 * (a key outside its prefix is never sent), the URL against the upload allow-list and SSRF checks,
 * and the connection pinned to the checked address, as for requested snapshots.
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
  const pools = pinnedPools(1);
  async function upload(grant: UploadGrant, entry: QueuedEvent, jpeg: Buffer, signal?: AbortSignal): Promise<UploadOutcome> {
    let fields: Record<string, string>;
    try {
      fields = grantUploadFields(grant, entry.key, { trigger: entry.trigger, topic: entry.topic, time: entry.eventTime, frameTime: entry.frameTime ?? entry.eventTime });
    } catch (err) {
      return { ok: false, permanent: true, error: (err as Error).message };
    }
    if (jpeg.length > grant.maxBytes) return { ok: false, permanent: true, error: `the picture has ${jpeg.length} bytes; the grant allows ${grant.maxBytes}` };
    const target = await resolveUploadTarget(grant.url, opts.target);
    if (!target.ok) return { ok: false, grantRefused: true, error: target.error };
    try {
      const r = await uploadPresignedPost({ url: grant.url, fields }, jpeg, { contentType: 'image/jpeg', timeoutMs: opts.timeoutMs, agent: pools.poolFor(grant.url, target), ...(signal ? { signal } : {}) });
      return { ok: true, ms: r.ms };
    } catch (err) {
      const error = err instanceof S3UploadError ? `S3 ${err.code}${err.status ? ` (HTTP ${err.status})` : ''}: ${err.message}` : (err as Error).message;
      if (err instanceof S3UploadError && !err.retryable && (err.status === 403 || err.status === 400)) return { ok: false, grantRefused: true, error };
      return { ok: false, retry: true, error };
    }
  }
  return { upload, close: () => pools.destroy() };
}
