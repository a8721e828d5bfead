import type { Logger } from '../../lib/log.js';
import type { AgentConnection } from '../connection.js';
import type { Feature } from '../feature.js';
import type { RequestJournal } from '../request-journal.js';
import { pinnedPools, resolveUploadTarget, type UploadTargetPolicy } from '../upload-target.js';
import { ShadowClient, ShadowRequestError, type ShadowDocument } from '../../protocol/shadow-client.js';
import { CloudClock } from '../../protocol/cloud-clock.js';
import { parseSnapshotRequest, type SnapshotReport, type SnapshotRequest, type SnapshotStatus } from '../../protocol/snapshot.js';
import { VapixError, type VapixClient } from '../../protocol/vapix.js';
import { S3UploadError, uploadPresignedPost } from '../../protocol/s3-post.js';

/**
 * Snapshot: the shadow-driven loop. On every connect it subscribes to its named shadow and GETs it,
 * so a request written while it was offline is served. A request (from the GET or a delta) is
 * validated, captured over VAPIX, uploaded with its presigned POST, and answered with one shadow
 * update that writes `reported.snapshot` and clears `desired.snapshot`. One snapshot at a time; a
 * newer request supersedes a queued older one; an id is handled at most once (RequestJournal).
 */
export interface SnapshotSettings {
  resolution: string;
  compression: number;
  maxBytes: number;
  captureTimeoutMs: number;
  uploadTimeoutMs: number;
  target: UploadTargetPolicy;
  /** How long stop() lets an in-flight snapshot finish before abandoning it. */
  stopGraceMs: number;
  /** Upload retries on S3 500/503 and network errors, while the presigned POST is still valid. */
  uploadAttempts: number;
}

export interface SnapshotEvents {
  /** Every final status, after it was reported (or reporting failed). For tests and `make run`. */
  onReport?: (report: SnapshotReport) => void;
}

interface Job {
  request: SnapshotRequest;
  receivedAt: number;
}

export interface SnapshotFeature extends Feature {
  /** Resolves when nothing is in flight or queued. */
  idle(): Promise<void>;
}

/** How soon a lost report or a failed shadow read is tried again while connected. */
export const RESYNC_MS = 3_000;
const INTERRUPTED = 'interrupted: the agent restarted while handling this request; request a new snapshot';

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

export function createSnapshotFeature(opts: {
  connection: AgentConnection;
  thing: string;
  shadowName: string;
  camera: VapixClient;
  journal: RequestJournal;
  settings: SnapshotSettings;
  log: Logger;
  now?: () => Date;
  events?: SnapshotEvents;
}): SnapshotFeature {
  const { connection, thing, shadowName, camera, journal, settings, log } = opts;
  const now = opts.now ?? (() => new Date());
  // Expiry is judged by the cloud's clock (S3 judges it by its own); the device clock may be off.
  const clock = new CloudClock(
    () => now().getTime(),
    (offsetMs) =>
      log.warn(
        { event: 'clock.offset', offsetSeconds: Math.round(offsetMs / 1000) },
        `the device clock is ${Math.abs(Math.round(offsetMs / 1000))} s ${offsetMs < 0 ? 'ahead of' : 'behind'} the cloud's: check the camera's NTP (cloudcam setup ntp); request expiry is judged by the cloud's clock meanwhile`,
      ),
  );
  const shadow = new ShadowClient(connection, thing, shadowName, undefined, clock);
  let current: Job | undefined;
  let queued: Job | undefined;
  let running: Promise<void> | undefined;
  let stopping = false;
  const abort = new AbortController();
  let idleWaiters: (() => void)[] = [];
  /** Finished requests whose report did not reach the shadow yet; retried until it does. */
  const unreported = new Map<string, SnapshotReport>();
  /** A shadow read that failed while connected; retried, not left until the next connect. */
  let resyncNeeded = false;
  let resyncTimer: NodeJS.Timeout | undefined;

  const final = (job: Job, status: SnapshotStatus, extra: { bytes?: number; error?: string | null } = {}): SnapshotReport => ({
    id: job.request.id,
    status,
    bytes: extra.bytes ?? 0,
    key: job.request.fields['key'] ?? null,
    ms: Date.now() - job.receivedAt,
    error: extra.error ?? null,
    at: now().toISOString(),
  });

  /**
   * Writes the report and clears desired.snapshot, but only while desired still holds this request:
   * the clear is conditional on the version at which we last knew the desired state, and on a 409
   * (or when `verify` asks for it) the shadow is read again first. A newer request is never wiped.
   */
  async function report(rep: SnapshotReport, verify = false): Promise<void> {
    for (let attempt = 1; attempt <= 4; attempt++) {
      let version = shadow.version;
      let clear = queued === undefined;
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
    throw new Error('the shadow kept changing while reporting; gave up after 4 tries');
  }

  async function finish(rep: SnapshotReport, verify = false): Promise<void> {
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
      scheduleResync();
      log.error({ event: 'snapshot.report-failed', id: rep.id, err: (err as Error).message }, `could not report the snapshot status; retrying in ${RESYNC_MS / 1000} s and after every connect`);
    }
    opts.events?.onReport?.(rep);
  }

  /**
   * A report that did not reach the shadow (no reply: the connection dropped, or the shadow service
   * missed it) must not be left to a next connect that may never come: while connected, it is sent
   * again every RESYNC_MS, and a failed shadow read is repeated too. Without this, a request whose
   * report was lost and whose desired entry was meanwhile replaced would never get a status.
   */
  function scheduleResync(): void {
    if (resyncTimer || stopping) return;
    resyncTimer = setTimeout(() => {
      resyncTimer = undefined;
      void resync();
    }, RESYNC_MS);
    resyncTimer.unref();
  }

  async function resync(): Promise<void> {
    if (stopping) return;
    if (!connection.connected) return; // onConnected resyncs
    for (const rep of [...unreported.values()]) {
      try {
        await report(rep, true);
        unreported.delete(rep.id);
        log.info({ event: 'snapshot.reported-late', id: rep.id, status: rep.status }, 'reported a snapshot status that had not reached the shadow');
      } catch (err) {
        log.warn({ event: 'snapshot.report-failed', id: rep.id, err: (err as Error).message }, 'could not report the snapshot status yet; retrying');
      }
    }
    if (resyncNeeded) await refresh('resync');
    if (unreported.size > 0 || resyncNeeded) scheduleResync();
  }

  async function capture(job: Job): Promise<Buffer> {
    const { jpeg } = await camera.captureJpeg({
      resolution: job.request.resolution ?? settings.resolution,
      compression: job.request.compression ?? settings.compression,
      maxBytes: Math.min(settings.maxBytes, job.request.maxBytes),
      signal: abort.signal,
    });
    return jpeg;
  }

  const pools = pinnedPools(4);

  /** `target` is the checked address: every attempt connects there, never to a fresh DNS answer. */
  async function upload(job: Job, jpeg: Buffer, target: { address: string; family: 4 | 6 }): Promise<void> {
    const expires = Date.parse(job.request.expiresAt);
    const agent = pools.poolFor(job.request.url, target);
    for (let attempt = 1; ; attempt++) {
      try {
        await uploadPresignedPost({ url: job.request.url, fields: job.request.fields }, jpeg, {
          contentType: 'image/jpeg',
          filename: `${job.request.id}.jpg`,
          timeoutMs: settings.uploadTimeoutMs,
          signal: abort.signal,
          agent,
        });
        return;
      } catch (err) {
        const retryable = err instanceof S3UploadError && err.retryable;
        const delay = Math.min(8000, 250 * 2 ** (attempt - 1)) * Math.random();
        if (!retryable || attempt >= settings.uploadAttempts || clock.now() + delay >= expires || abort.signal.aborted) throw err;
        log.warn({ event: 'upload.retry', id: job.request.id, attempt, err: (err as Error).message }, 'upload failed; retrying');
        await sleep(delay, abort.signal);
      }
    }
  }

  async function handleJob(job: Job): Promise<void> {
    const { request } = job;
    if (clock.now() >= Date.parse(request.expiresAt)) {
      const skew = Math.abs(clock.offsetMs) >= CloudClock.LARGE_OFFSET_MS ? ` (cloud time; the device clock is off by ${Math.round(clock.offsetMs / 1000)} s)` : '';
      return finish(final(job, 'expired', { error: `the presigned POST expired at ${request.expiresAt} before the agent got to it${skew}` }));
    }
    const target = await resolveUploadTarget(request.url, settings.target);
    if (!target.ok) return finish(final(job, 'rejected', { error: target.error }));
    if (request.maxBytes > settings.maxBytes) {
      log.info({ event: 'snapshot.capped', id: request.id }, `request allows ${request.maxBytes} bytes; capping capture at snapshot.maxBytes ${settings.maxBytes}`);
    }
    try {
      await journal.begin(request.id, request.fields['key'] ?? null);
    } catch (err) {
      return finish(final(job, 'failed', { error: (err as Error).message }));
    }
    log.debug({ event: 'snapshot.capturing', id: request.id }, 'capturing');
    let jpeg: Buffer;
    try {
      jpeg = await capture(job);
    } catch (err) {
      const msg = err instanceof VapixError ? `camera: ${err.message}` : `camera: ${(err as Error).message}`;
      return finish(final(job, 'failed', { error: abort.signal.aborted ? 'agent stopped during capture' : msg }));
    }
    try {
      await upload(job, jpeg, target);
    } catch (err) {
      const msg = err instanceof S3UploadError ? `upload: S3 ${err.code}${err.status ? ` (HTTP ${err.status})` : ''}: ${err.message}` : `upload: ${(err as Error).message}`;
      return finish(final(job, 'failed', { bytes: 0, error: abort.signal.aborted ? 'agent stopped during upload' : msg }));
    }
    return finish(final(job, 'uploaded', { bytes: jpeg.length }));
  }

  function pump(): void {
    if (running || stopping) return;
    const job = queued;
    queued = undefined;
    if (!job) {
      const waiters = idleWaiters;
      idleWaiters = [];
      waiters.forEach((w) => w());
      return;
    }
    current = job;
    running = handleJob(job)
      .catch((err: unknown) => log.error({ event: 'snapshot.crashed', id: job.request.id, err: (err as Error).message }, 'snapshot handling failed unexpectedly'))
      .finally(() => {
        current = undefined;
        running = undefined;
        pump();
      });
  }

  /**
   * A request whose id was handled or is in hand: never handled again. When it still (or again) sits
   * in desired, its report did not reach the shadow, or it is a replay: re-send the journalled report,
   * clearing desired only if it still holds this id. An id journalled as started but never finished
   * (the agent stopped mid-way) ends as failed, never as a second upload. Returns false for a new id.
   */
  function handleKnown(id: string, source: 'get' | 'delta', job: Job): boolean {
    const known = journal.get(id);
    const inHand = current?.request.id === id || queued?.request.id === id;
    if (!known && !inHand) return false;
    if (known?.state === 'done' && known.report) {
      log.info({ event: 'snapshot.duplicate', id, source }, 'request already handled; re-sending its report');
      report(known.report, true).catch((err: unknown) => log.warn({ event: 'snapshot.report-failed', id, err: (err as Error).message }, 'could not re-send a report'));
    } else if (known?.state === 'started' && !inHand) {
      void finish(final(job, 'failed', { error: INTERRUPTED }), true);
    } else {
      log.debug({ event: 'snapshot.duplicate', id, source }, 'ignored a request already in hand');
    }
    return true;
  }

  /**
   * Requests a previous run was handling when it died, that are no longer in desired (the cloud
   * replaced them with a newer request meanwhile), would otherwise never get a final status: report
   * each as failed, once, after the first shadow read (which finishes those still in desired).
   */
  let interruptedToReport = [...journal.interrupted];
  function reportInterrupted(): void {
    const ids = interruptedToReport;
    interruptedToReport = [];
    for (const id of ids) {
      const entry = journal.get(id);
      if (entry?.state !== 'started' || current?.request.id === id || queued?.request.id === id) continue;
      const job: Job = { request: { id, url: '', fields: entry.key ? { key: entry.key } : {}, expiresAt: '', maxBytes: 0 }, receivedAt: Date.now() };
      log.info({ event: 'snapshot.interrupted', id }, 'a request the agent was handling when it last stopped is no longer pending; reporting it failed');
      void finish(final(job, 'failed', { error: INTERRUPTED }), true);
    }
  }

  /** Takes a request from the shadow (GET or delta). `raw` is the desired.snapshot value. */
  function offer(raw: unknown, source: 'get' | 'delta'): void {
    if (raw === undefined || raw === null || stopping) return;
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
    if (handleKnown(id, source, job)) return;
    if (!parsed.ok) {
      void finish(final(job, 'rejected', { error: parsed.error }));
      return;
    }
    const request = parsed.value;
    if (queued) {
      const old = queued;
      log.info({ event: 'snapshot.superseded', id: old.request.id, by: request.id }, 'a newer request supersedes a queued one');
      const rep = final(old, 'rejected', { error: `superseded by newer request ${request.id}` });
      void journal.finish(rep).catch(() => undefined);
      // Report without clearing desired (it now holds the newer request).
      shadow.update({ reported: { snapshot: rep } }).catch(() => undefined);
      opts.events?.onReport?.(rep);
    }
    log.info({ event: 'snapshot.received', id: request.id, source }, 'snapshot request received');
    queued = job;
    pump();
  }

  async function refresh(why: string): Promise<void> {
    try {
      const doc: ShadowDocument | undefined = await shadow.get();
      resyncNeeded = false;
      offer(doc?.state.desired?.['snapshot'], 'get');
    } catch (err) {
      resyncNeeded = true;
      scheduleResync();
      log.warn({ event: 'shadow.get-failed', why, err: (err as Error).message }, `could not read the shadow; reading it again in ${RESYNC_MS / 1000} s`);
    }
  }

  const onDelta = (state: Record<string, unknown>): void => offer(state['snapshot'], 'delta');

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
      await refresh('connected');
      reportInterrupted();
      if (unreported.size > 0) await resync();
    },
    async stop() {
      stopping = true;
      clearTimeout(resyncTimer);
      shadow.off('delta', onDelta);
      if (running) {
        const timer = setTimeout(() => abort.abort(), settings.stopGraceMs);
        await running;
        clearTimeout(timer);
      }
      shadow.close();
      pools.destroy();
    },
    idle() {
      if (!running && !queued) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
