import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log.js';
import { Writable } from 'node:stream';
import { findPlaceholders, presignedUrlPlaceholder, replacePlaceholders } from '../../protocol/presigned-url-placeholder.js';
import type { JobsError } from './errors.js';
import { JobsAdminError } from './errors.js';
import { JobStore, type PendingChange } from './store.js';

/** A clock the test moves; the stores' timers are minutes of real time away, so none fires during a test. */
function clock(start = 1_700_000_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-jobstore-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('JobStore', () => {
  it('reports pending changes per thing: list for add/remove, next for a new head', () => {
    const store = new JobStore();
    const changes: [string, PendingChange][] = [];
    store.on('pending', (thing, change) => changes.push([thing, change]));
    store.createJob({ jobId: 'a', targets: ['t1', 't2'], document: '{}' });
    expect(changes).toEqual([
      ['t1', { list: true, next: true }],
      ['t2', { list: true, next: true }],
    ]);
    changes.length = 0;
    store.startNext('t1', {});
    expect(changes).toEqual([]);
    store.update('t1', 'a', { status: 'SUCCEEDED' });
    expect(changes).toEqual([['t1', { list: true, next: true }]]);
    store.stop();
  });

  it('a deadline that passed while devcloud was down ends the execution TIMED_OUT on load', () => {
    const file = path.join(dir, 'jobs.json');
    const c = clock();
    const first = new JobStore({ persistPath: file, now: c.now, minuteMs: 60_000 });
    first.createJob({ jobId: 'j', targets: ['t1'], document: '{"op":"x"}' });
    first.startNext('t1', { stepTimeoutInMinutes: 5 });
    first.stop();
    c.advance(5 * 60_000);
    const second = new JobStore({ persistPath: file, now: c.now, minuteMs: 60_000 });
    expect(second.executionsOf('j')).toMatchObject([{ status: 'TIMED_OUT', versionNumber: 3 }]);
    expect(second.job('j')!.status).toBe('COMPLETED');
    second.stop();
  });

  it('a rollout batch that fell due while devcloud was down is released on load', () => {
    const file = path.join(dir, 'jobs.json');
    const c = clock();
    const first = new JobStore({ persistPath: file, now: c.now, minuteMs: 60_000 });
    first.createJob({ jobId: 'r', targets: ['t1', 't2', 't3'], document: '{}', rollout: { maximumPerMinute: 2 } });
    expect(first.executionsOf('r').map((e) => e.thingName)).toEqual(['t1', 't2']);
    first.stop();
    c.advance(60_000);
    const second = new JobStore({ persistPath: file, now: c.now, minuteMs: 60_000 });
    expect(second.executionsOf('r').map((e) => e.thingName)).toEqual(['t1', 't2', 't3']);
    second.stop();
  });

  it('abort counts only the failure type it names', () => {
    const store = new JobStore();
    store.createJob({ jobId: 'x', targets: ['a', 'b', 'c'], document: '{}', abort: { failureType: 'TIMED_OUT', thresholdPercentage: 10, minNumberOfExecutedThings: 1 } });
    store.update('a', 'x', { status: 'FAILED' });
    expect(store.job('x')!.status).toBe('IN_PROGRESS');
    store.stop();
    const all = new JobStore();
    all.createJob({ jobId: 'y', targets: ['a', 'b', 'c'], document: '{}', abort: { failureType: 'ALL', thresholdPercentage: 50, minNumberOfExecutedThings: 2 } });
    all.update('a', 'y', { status: 'SUCCEEDED' });
    all.update('b', 'y', { status: 'REJECTED' });
    expect(all.job('y')).toMatchObject({ status: 'CANCELED', reasonCode: 'ABORTED' });
    expect(all.executionsOf('y').map((e) => e.status)).toEqual(['SUCCEEDED', 'REJECTED', 'CANCELED']);
    all.stop();
  });

  it('refuses what CreateJob refuses, naming the parameter', () => {
    const store = new JobStore({ thingExists: (t) => t === 't1', presignableBuckets: ['rel'] });
    const refused = (spec: Parameters<JobStore['createJob']>[0]): JobsAdminError => {
      try {
        store.createJob(spec);
      } catch (err) {
        if (err instanceof JobsAdminError) return err;
        throw err;
      }
      throw new Error('accepted');
    };
    expect(refused({ jobId: 'j', targets: [], document: '{}' }).message).toMatch(/at least one thing/);
    expect(refused({ jobId: 'j', targets: ['t2'], document: '{}' }).status).toBe(404);
    expect(refused({ jobId: 'j', targets: ['t1'], document: 'x'.repeat(32_769) }).message).toMatch(/32768/);
    expect(refused({ jobId: 'j', targets: ['t1'], document: JSON.stringify({ u: presignedUrlPlaceholder('rel', 'k') }) }).message).toMatch(/no presignedUrlConfig/);
    expect(refused({ jobId: 'j', targets: ['t1'], document: '{"u":"${aws:iot:s3-presigned-url:ftp://x/y}"}', presignedUrlConfig: { expiresInSec: 60 } }).message).toMatch(/does not name an S3 object/);
    expect(refused({ jobId: 'j', targets: ['t1'], document: '{}', abort: { failureType: 'ALL', thresholdPercentage: 10.555, minNumberOfExecutedThings: 1 } }).message).toMatch(/two decimals/);
    store.stop();
  });

  it('an unknown execution is ResourceNotFound; a stale expectedVersion is VersionMismatch with the state', () => {
    const store = new JobStore();
    store.createJob({ jobId: 'j', targets: ['t1'], document: '{}' });
    expect(() => store.update('t2', 'j', { status: 'IN_PROGRESS' })).toThrow(expect.objectContaining({ code: 'ResourceNotFound' }) as JobsError);
    expect(() => store.update('t1', 'j', { status: 'IN_PROGRESS', expectedVersion: 2 })).toThrow(
      expect.objectContaining({ code: 'VersionMismatch', executionState: { status: 'QUEUED', versionNumber: 1 } }) as JobsError,
    );
    store.stop();
  });

  it('an unusable jobs file is refused with the way out', async () => {
    const file = path.join(dir, 'jobs.json');
    await writeFile(file, '{"format":"other"}');
    expect(() => new JobStore({ persistPath: file })).toThrow(/jobs file .* is unusable .*delete it to start without jobs/);
    await writeFile(file, 'nope');
    expect(() => new JobStore({ persistPath: file })).toThrow(/not valid JSON/);
  });

  it('a timer whose save fails logs the error and does not throw out of the timer', async () => {
    const sub = path.join(dir, 'sub');
    let failed: () => void = () => undefined;
    const logged = new Promise<void>((resolve) => (failed = resolve));
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        if (chunk.toString().includes('jobs timer failed')) failed();
        done();
      },
    });
    const store = new JobStore({ persistPath: path.join(sub, 'jobs.json'), minuteMs: 1000, log: createLogger({ name: 't', level: 'error', destination: stream }) });
    store.createJob({ jobId: 'j', targets: ['t1', 't2'], document: '{}', rollout: { maximumPerMinute: 1 } });
    // The state dir is replaced by a file: the rollout's second batch cannot be saved.
    await rm(sub, { recursive: true, force: true });
    await writeFile(sub, 'not a directory');
    await logged;
    store.stop();
  });

  it('persists with mode 0600', async () => {
    const file = path.join(dir, 'jobs.json');
    const store = new JobStore({ persistPath: file });
    store.createJob({ jobId: 'j', targets: ['t1'], document: '{}' });
    store.stop();
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ format: 'cloudcam-jobs/1', jobs: [{ jobId: 'j' }] });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});

describe('presigned-URL placeholders', () => {
  it('finds path-style and virtual-hosted S3 URLs, and replaces each with a JSON-safe URL', async () => {
    const doc = JSON.stringify({
      a: '${aws:iot:s3-presigned-url:https://s3.amazonaws.com/rel/pkg/a.eap}',
      b: '${aws:iot:s3-presigned-url:https://rel.s3.eu-north-1.amazonaws.com/pkg/b%20c.eap}',
      c: '${aws:iot:s3-presigned-url:rel/pkg/c.eap}',
      d: '${aws:iot:s3-presigned-url-v2:https://s3.eu-north-1.amazonaws.com/rel/pkg/d.eap}',
    });
    expect(findPlaceholders(doc).map((p) => [p.bucket, p.key])).toEqual([
      ['rel', 'pkg/a.eap'],
      ['rel', 'pkg/b c.eap'],
      ['rel', 'pkg/c.eap'],
      ['rel', 'pkg/d.eap'],
    ]);
    const out = await replacePlaceholders(doc, (bucket, key) => Promise.resolve(`https://signed/${bucket}/${key}?q="1"`));
    expect(JSON.parse(out)).toMatchObject({ a: 'https://signed/rel/pkg/a.eap?q="1"', b: 'https://signed/rel/pkg/b c.eap?q="1"', d: 'https://signed/rel/pkg/d.eap?q="1"' });
  });

  it('refuses a placeholder that names no S3 object', () => {
    for (const bad of ['https://example.com/rel/x', 'rel', 'Bad_Bucket/x', 'http://s3.amazonaws.com/rel/x', 'https://s3.amazonaws.com/rel', 'https://s3.amazonaws.com/rel/x?versionId=1']) {
      expect(() => findPlaceholders(`\${aws:iot:s3-presigned-url:${bad}}`), bad).toThrow(/does not name an S3 object/);
    }
  });

  it('round-trips presignedUrlPlaceholder', () => {
    expect(findPlaceholders(presignedUrlPlaceholder('rel', 'dir/a b.eap'))).toMatchObject([{ bucket: 'rel', key: 'dir/a b.eap' }]);
  });
});
