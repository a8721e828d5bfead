import type { SnapshotRequest } from '../../../protocol/snapshot.js';

/** A request taken in, with the time it arrived (a report's `ms` counts from there). */
export interface Job {
  request: SnapshotRequest;
  receivedAt: number;
}

/**
 * One snapshot at a time, and one slot for the next: a newer request replaces a waiting older one
 * (handed to `onSuperseded` first), never the one in hand. Requests are not queued deeper because
 * the shadow holds one desired request: only the newest can still be wanted.
 */
export interface SnapshotQueue {
  /** Takes a job: it runs at once when nothing is in hand, else waits in the slot. */
  offer(job: Job): void;
  /** True when the job in hand or the waiting one has this id. */
  holds(id: string): boolean;
  /** True when a job waits in the slot (a report must then not clear desired: it holds the newer one). */
  hasWaiting(): boolean;
  /** Resolves when nothing is in hand or waiting. */
  idle(): Promise<void>;
  /**
   * Starts nothing new; resolves when the job in hand has finished. After graceMs `abandon` is
   * called (it aborts the capture or upload, so the job ends as failed and is still reported).
   */
  stop(graceMs: number, abandon: () => void): Promise<void>;
}

export function createSnapshotQueue(opts: {
  run: (job: Job) => Promise<void>;
  onSuperseded: (old: Job, by: Job) => void;
  /** `run` rejected (it should not): logged by the caller; the queue carries on. */
  onCrash: (job: Job, err: unknown) => void;
}): SnapshotQueue {
  let current: Job | undefined;
  let waiting: Job | undefined;
  let running: Promise<void> | undefined;
  let stopping = false;
  let idleWaiters: (() => void)[] = [];

  function pump(): void {
    if (running || stopping) return;
    const job = waiting;
    waiting = undefined;
    if (!job) {
      const waiters = idleWaiters;
      idleWaiters = [];
      waiters.forEach((w) => w());
      return;
    }
    current = job;
    running = opts
      .run(job)
      .catch((err: unknown) => opts.onCrash(job, err))
      .finally(() => {
        current = undefined;
        running = undefined;
        pump();
      });
  }

  return {
    offer(job) {
      if (stopping) return;
      if (waiting) opts.onSuperseded(waiting, job);
      waiting = job;
      pump();
    },
    holds: (id) => current?.request.id === id || waiting?.request.id === id,
    hasWaiting: () => waiting !== undefined,
    idle() {
      if (!running && !waiting) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async stop(graceMs, abandon) {
      stopping = true;
      if (!running) return;
      const timer = setTimeout(abandon, graceMs);
      await running;
      clearTimeout(timer);
    },
  };
}
