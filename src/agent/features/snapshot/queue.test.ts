import { describe, expect, it } from 'vitest';
import { createSnapshotQueue, type Job } from './queue.js';

const job = (id: string): Job => ({ request: { id, url: 'https://bucket.example/', fields: { key: `${id}.jpg` }, expiresAt: '2099-01-01T00:00:00Z', maxBytes: 1000 }, receivedAt: Date.now() });

/** A run function whose jobs finish only when the test says so. */
function gatedRuns() {
  const started: string[] = [];
  const gates = new Map<string, () => void>();
  const startedWaiters: { id: string; resolve: () => void }[] = [];
  return {
    started,
    run: (j: Job): Promise<void> =>
      new Promise<void>((resolve) => {
        started.push(j.request.id);
        gates.set(j.request.id, resolve);
        for (const w of startedWaiters.filter((x) => x.id === j.request.id)) w.resolve();
      }),
    finish: (id: string): void => gates.get(id)!(),
    whenStarted: (id: string): Promise<void> => (started.includes(id) ? Promise.resolve() : new Promise((resolve) => startedWaiters.push({ id, resolve }))),
  };
}

describe('snapshot queue: one at a time, one waiting', () => {
  it('runs a job at once, holds the next, and a newer one supersedes the waiting one, never the one in hand', async () => {
    const runs = gatedRuns();
    const superseded: [string, string][] = [];
    const q = createSnapshotQueue({ run: runs.run, onSuperseded: (old, by) => superseded.push([old.request.id, by.request.id]), onCrash: () => undefined });
    q.offer(job('a'));
    expect(runs.started).toEqual(['a']);
    q.offer(job('b'));
    q.offer(job('c'));
    expect(superseded).toEqual([['b', 'c']]);
    expect(q.holds('a') && q.holds('c') && !q.holds('b')).toBe(true);
    expect(q.hasWaiting()).toBe(true);
    const idle = q.idle();
    runs.finish('a');
    await runs.whenStarted('c');
    expect(q.hasWaiting()).toBe(false);
    runs.finish('c');
    await idle;
    expect(runs.started).toEqual(['a', 'c']);
    expect(q.holds('c')).toBe(false);
  });

  it('a run that rejects is handed to onCrash and the next job still runs', async () => {
    const crashed: string[] = [];
    const ran: string[] = [];
    const q = createSnapshotQueue({
      run: async (j) => {
        ran.push(j.request.id);
        if (j.request.id === 'bad') throw new Error('boom');
      },
      onSuperseded: () => undefined,
      onCrash: (j) => crashed.push(j.request.id),
    });
    q.offer(job('bad'));
    q.offer(job('good'));
    await q.idle();
    expect(ran).toEqual(['bad', 'good']);
    expect(crashed).toEqual(['bad']);
  });

  it('stop waits for the job in hand, abandons it after the grace, and starts nothing new', async () => {
    const runs = gatedRuns();
    const q = createSnapshotQueue({ run: runs.run, onSuperseded: () => undefined, onCrash: () => undefined });
    q.offer(job('a'));
    q.offer(job('b'));
    let abandoned = false;
    const stopped = q.stop(10, () => {
      abandoned = true;
      runs.finish('a'); // an aborted capture or upload ends the job
    });
    await stopped;
    expect(abandoned).toBe(true);
    q.offer(job('c'));
    expect(runs.started).toEqual(['a']);
  });

  it('stop with nothing in hand returns at once without abandoning anything', async () => {
    const q = createSnapshotQueue({ run: async () => undefined, onSuperseded: () => undefined, onCrash: () => undefined });
    let abandoned = false;
    await q.stop(10_000, () => (abandoned = true));
    expect(abandoned).toBe(false);
  });
});
