import { S3UploadError, uploadPresignedPost, type PresignedPost, type UploadResult } from '../../../protocol/s3-post.js';
import { pinnedPools, resolveUploadTarget, type ResolvedTarget, type UploadTargetPolicy } from '../../upload-target.js';

/**
 * The upload step every snapshot path shares (requested and event snapshots), in two halves:
 * `check` belongs to validation (the URL against the upload allow-list and the SSRF checks, before
 * the camera is touched) and returns the checked address; `send` POSTs the form there, every attempt
 * pinned to that address (never to a fresh DNS answer) over a kept keep-alive pool, retrying S3
 * 5xx/throttling and network errors only when the caller allows retries.
 */
export interface UploadStep {
  check(url: string): Promise<ResolvedTarget>;
  send(form: PresignedPost, jpeg: Buffer, to: CheckedAddress, opts: SendOptions): Promise<UploadResult>;
  /** Closes the kept connections (stop). */
  close(): void;
}

export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

export interface SendOptions {
  signal?: AbortSignal | undefined;
  /** S3 substitutes it for `${filename}` in the key. */
  filename?: string;
  /** Without it: one attempt. */
  retry?: UploadRetry;
}

export interface UploadRetry {
  attempts: number;
  /** No retry starts at or after this time (ms since the epoch by `now`): the presigned POST's expiry. */
  until: number;
  now: () => number;
  onRetry?: (attempt: number, err: Error) => void;
}

export function createUploadStep(opts: { target: UploadTargetPolicy; timeoutMs: number; /** keep-alive pools kept, one per (origin, address) */ pools: number }): UploadStep {
  const pools = pinnedPools(opts.pools);
  return {
    check: (url) => resolveUploadTarget(url, opts.target),
    async send(form, jpeg, to, o) {
      const agent = pools.poolFor(form.url, to);
      for (let attempt = 1; ; attempt++) {
        try {
          return await uploadPresignedPost(form, jpeg, {
            contentType: 'image/jpeg',
            timeoutMs: opts.timeoutMs,
            agent,
            filename: o.filename,
            signal: o.signal,
          });
        } catch (err) {
          const r = o.retry;
          const retryable = err instanceof S3UploadError && err.retryable;
          const delay = Math.min(8000, 250 * 2 ** (attempt - 1)) * Math.random();
          if (!r || !retryable || attempt >= r.attempts || r.now() + delay >= r.until || o.signal?.aborted) throw err;
          r.onRetry?.(attempt, err);
          await sleep(delay, o.signal);
        }
      }
    },
    close: () => pools.destroy(),
  };
}

/** What went wrong, for a report or a log line: S3's code and status when S3 answered. */
export function uploadErrorMessage(err: unknown): string {
  if (err instanceof S3UploadError) return `S3 ${err.code}${err.status ? ` (HTTP ${err.status})` : ''}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', done);
      resolve();
    }, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
