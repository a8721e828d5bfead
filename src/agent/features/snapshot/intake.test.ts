import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { captureLog } from '../../../../test/helpers/agent-connection-kit.js';
import { FakeShadowLink, nextReportWritten, snapshotRequest } from '../../../../test/helpers/fake-shadow-link.js';
import { ShadowClient } from '../../../protocol/shadow-client.js';
import type { SnapshotReport } from '../../../protocol/snapshot.js';
import { RequestJournal } from '../../request-journal.js';
import { createDuplicateGuard, INTERRUPTED, type DuplicateGuard } from './duplicates.js';
import { createIntake, type Intake } from './intake.js';
import { createSnapshotQueue, type Job, type SnapshotQueue } from './queue.js';
import { createReporter, finalReport } from './reporter.js';

/**
 * Taking requests in and at most once per id, with the real queue, reporter and request journal
 * against the in-memory shadow service. The steps (validate → capture → upload) are replaced by a
 * run function that records the ids it was given and finishes each as uploaded when released.
 */
describe('snapshot intake and duplicate guard', () => {
  let dir: string;
  let link: FakeShadowLink;
  let shadow: ShadowClient;
  let journal: RequestJournal;
  let queue: SnapshotQueue;
  let duplicates: DuplicateGuard;
  let intake: Intake;
  let ran: string[];
  let gates: Map<string, () => void>;
  let reports: SnapshotReport[];
  let reportWaiters: { id: string; resolve: (r: SnapshotReport) => void }[];
  const captured = captureLog();

  const finalFor = (id: string): Promise<SnapshotReport> => {
    const seen = reports.find((r) => r.id === id);
    return seen ? Promise.resolve(seen) : new Promise((resolve) => reportWaiters.push({ id, resolve }));
  };
  const started = (id: string): Promise<void> => new Promise((resolve) => (ran.includes(id) ? resolve() : gates.set(`start:${id}`, resolve)));

  /** Wires the parts as feature.ts does, over a journal reopened from `dir` (a restart). */
  async function startParts(): Promise<void> {
    shadow = new ShadowClient(link, 'cam-1', 'cloudcam', 2000);
    await shadow.subscribe();
    journal = await RequestJournal.open(dir);
    const now = (): Date => new Date();
    queue = createSnapshotQueue({
      run: (job: Job) =>
        new Promise<void>((resolve) => {
          ran.push(job.request.id);
          gates.get(`start:${job.request.id}`)?.();
          gates.set(job.request.id, () => void reporter.finish(finalReport(job, 'uploaded', now(), { bytes: 1 })).then(resolve));
        }),
      onSuperseded: (old, by) => reporter.superseded(finalReport(old, 'rejected', now(), { error: `superseded by newer request ${by.request.id}` })),
      onCrash: () => undefined,
    });
    const reporter = createReporter({
      shadow,
      journal,
      log: captured.log,
      newerWaiting: () => queue.hasWaiting(),
      onUnreported: () => undefined,
      retryMs: 3000,
      onReport: (r) => {
        reports.push(r);
        for (const w of reportWaiters.filter((x) => x.id === r.id)) w.resolve(r);
      },
    });
    duplicates = createDuplicateGuard({ journal, queue, reporter, log: captured.log, now });
    intake = createIntake({ shadow, queue, duplicates, reporter, log: captured.log, now, onReadFailed: () => undefined, retryMs: 3000 });
    shadow.on('delta', (state) => intake.offer(state['snapshot'], 'delta'));
  }

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-intake-'));
    link = new FakeShadowLink({ thing: 'cam-1', shadow: 'cloudcam' });
    ran = [];
    gates = new Map();
    reports = [];
    reportWaiters = [];
    await startParts();
  });
  afterEach(async () => {
    shadow.close();
    await journal.settled(); // a superseded request is journalled without waiting
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a request from a delta and from the GET after a connect, each once', async () => {
    link.cloudUpdate({ desired: { snapshot: snapshotRequest('a') } });
    await started('a');
    await intake.refresh('connected'); // the same request read again while in hand
    gates.get('a')!();
    expect(await finalFor('a')).toMatchObject({ status: 'uploaded' });
    expect(ran).toEqual(['a']);
    expect(link.state().desired?.['snapshot']).toBeUndefined();
  });

  it('superseding: a newer request replaces the waiting one (reported rejected), never the one in hand, and is not wiped by the older report', async () => {
    link.cloudUpdate({ desired: { snapshot: snapshotRequest('a') } });
    await started('a');
    link.cloudUpdate({ desired: { snapshot: snapshotRequest('b') } });
    const c = snapshotRequest('c');
    const cStarted = started('c');
    const bRejected = finalFor('b');
    await once(shadow, 'delta');
    link.cloudUpdate({ desired: { snapshot: c } });
    expect(await bRejected).toMatchObject({ status: 'rejected', error: 'superseded by newer request c' });
    gates.get('a')!();
    expect(await finalFor('a')).toMatchObject({ status: 'uploaded' });
    await cStarted;
    expect(link.state().desired?.['snapshot']).toMatchObject({ id: 'c' }); // a's report left c alone
    gates.get('c')!();
    await finalFor('c');
    expect(ran).toEqual(['a', 'c']);
    expect(link.state().desired?.['snapshot']).toBeUndefined();
  });

  it('a replayed request that was handled is not run again: its journalled report is re-sent and desired cleared', async () => {
    link.cloudUpdate({ desired: { snapshot: snapshotRequest('a') } });
    await started('a');
    gates.get('a')!();
    const first = await finalFor('a');
    // Restart, then the same request is put back (as if its report had been lost).
    shadow.close();
    await startParts();
    const resent = nextReportWritten(link, 'a');
    link.cloudUpdate({ desired: { snapshot: snapshotRequest('a') } });
    await intake.refresh('connected');
    expect(await resent).toEqual(first);
    expect(ran).toEqual(['a']);
    expect(captured.lines.some((l) => l['event'] === 'snapshot.duplicate' && l['id'] === 'a')).toBe(true);
  });

  it('an id journalled as started by a run that died ends as failed (interrupted), never run again', async () => {
    await journal.begin('a', 'cam-1/a.jpg');
    shadow.close();
    await startParts(); // the restart: the journal lists a as interrupted
    link.cloudUpdate({ desired: { snapshot: snapshotRequest('a') } });
    expect(await finalFor('a')).toMatchObject({ status: 'failed', error: INTERRUPTED, key: 'cam-1/a.jpg' });
    duplicates.reportInterrupted(); // already finished: not reported twice
    expect(reports.filter((r) => r.id === 'a')).toHaveLength(1);
    expect(ran).toEqual([]);
    expect(link.state().desired?.['snapshot']).toBeUndefined();
  });

  it('an interrupted id no longer in desired (replaced meanwhile) is reported failed once after the first read; the newer one is served', async () => {
    await journal.begin('a', 'cam-1/a.jpg');
    link.cloudUpdate({ desired: { snapshot: snapshotRequest('b') } });
    shadow.close();
    await startParts();
    await intake.refresh('connected');
    duplicates.reportInterrupted();
    duplicates.reportInterrupted();
    expect(await finalFor('a')).toMatchObject({ status: 'failed', error: INTERRUPTED, key: 'cam-1/a.jpg' });
    await started('b');
    expect(link.state().desired?.['snapshot']).toMatchObject({ id: 'b' }); // a's report did not clear b
    gates.get('b')!();
    await finalFor('b');
    expect(reports.filter((r) => r.id === 'a')).toHaveLength(1);
    expect(ran).toEqual(['b']);
  });

  it('a malformed request with an id is rejected; one without a usable id is cleared; the next is served', async () => {
    link.cloudUpdate({ desired: { snapshot: { id: 'bad', url: 'not a url' } } });
    expect(await finalFor('bad')).toMatchObject({ status: 'rejected' });
    const cleared = new Promise<void>((resolve) => {
      const onUpdated = (): void => {
        if (link.state().desired?.['snapshot'] !== undefined) return;
        link.store.off('updated', onUpdated);
        resolve();
      };
      link.store.on('updated', onUpdated);
    });
    link.cloudUpdate({ desired: { snapshot: { url: 42 } } });
    await cleared;
    link.cloudUpdate({ desired: { snapshot: snapshotRequest('good') } });
    await started('good');
    gates.get('good')!();
    expect(await finalFor('good')).toMatchObject({ status: 'uploaded' });
    expect(ran).toEqual(['good']);
  });
});
