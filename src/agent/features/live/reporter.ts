/**
 * `reported.live` in the camera's named shadow (a LiveReport, src/protocol/live-request.ts): written
 * on every change, one write at a time (a change during a write is written after it), and again on
 * the first connect of the process (a crash while live must not leave `on` behind) and on any connect
 * after a failed write. Its shadow replies also feed the cloud clock that judges live requests.
 */
import type { Logger } from '../../../lib/log.js';
import type { CloudClock } from '../../../protocol/cloud-clock.js';
import type { LiveReport, LiveState } from '../../../protocol/live-request.js';
import { ShadowClient, type MqttLink } from '../../../protocol/shadow-client.js';

export interface LiveReporter {
  readonly current: LiveReport;
  /** A new state or viewer count; written when it differs from the last one. */
  set(next: { state: LiveState; viewers: number; error?: string }): void;
  /** Subscribes the shadow replies and writes what is not yet written. */
  onConnected(): Promise<void>;
  /** Resolves when nothing is being written (or after boundMs). */
  flush(boundMs: number): Promise<void>;
  close(): void;
}

export function createLiveReporter(opts: { link: MqttLink & { readonly connected: boolean }; thing: string; shadowName: string; maxViewers: number; clock: CloudClock; log: Logger; now: () => Date }): LiveReporter {
  const shadow = new ShadowClient(opts.link, opts.thing, opts.shadowName, 10_000, opts.clock);
  let current: LiveReport = { state: 'off', viewers: 0, maxViewers: opts.maxViewers, since: opts.now().toISOString() };
  let written: string | undefined;
  let writing: Promise<void> | undefined;

  function write(): void {
    if (writing || !opts.link.connected) return;
    const doc = JSON.stringify(current);
    if (doc === written) return;
    // null removes an error the shadow still holds from an earlier report.
    const body = { ...current, error: current.error ?? null };
    let ok = false;
    writing = shadow
      .update({ reported: { live: body } })
      .then(
        () => {
          written = doc;
          ok = true;
        },
        (err: unknown) => opts.log.warn({ event: 'live.report-failed', err: (err as Error).message }, `could not report live view to the shadow: ${(err as Error).message}; written again on the next change or connect`),
      )
      .finally(() => {
        writing = undefined;
        // A change that came during the write; a failed write waits for the next change or connect.
        if (ok && JSON.stringify(current) !== written) write();
      });
  }

  return {
    get current() {
      return current;
    },
    set(next) {
      const stateChanged = next.state !== current.state;
      const candidate: LiveReport = { state: next.state, viewers: next.viewers, maxViewers: opts.maxViewers, since: stateChanged ? opts.now().toISOString() : current.since };
      if (next.error !== undefined) candidate.error = next.error;
      if (!stateChanged && candidate.viewers === current.viewers && candidate.error === current.error) return;
      current = candidate;
      write();
    },
    async onConnected() {
      await shadow.subscribe();
      write();
    },
    async flush(boundMs) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([writing, new Promise<void>((resolve) => (timer = setTimeout(resolve, boundMs)))]);
      clearTimeout(timer);
    },
    close() {
      shadow.close();
    },
  };
}
