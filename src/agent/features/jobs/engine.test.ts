import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/log.js';
import { JOBS_LIMITS, jobsTopics } from '../../../protocol/jobs.js';
import { JobsClient } from './client.js';
import { createJobEngine, type JobEngine } from './engine.js';
import { FakeJobsService } from './fake-jobs-service.js';
import type { JobOperation, JobOutcome, JobRun } from './operation.js';

const thing = 'cam-1';
const topics = jobsTopics(thing);

interface Rig {
  svc: FakeJobsService;
  engine: JobEngine;
  client: JobsClient;
  logs: Record<string, unknown>[];
}
const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.engine.stop(100);
});

function rig(operations: JobOperation[], svc = new FakeJobsService(thing), timeoutMs = 2000, stepTimeoutMinutes = 7): Rig {
  const logs: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const log = createLogger({ name: 't', level: 'debug', destination: out });
  const client = new JobsClient(svc.link, thing, timeoutMs);
  const engine = createJobEngine({ client, operations, stepTimeoutMinutes, isConnected: () => svc.connected, log, retryMs: 60_000 });
  const r = { svc, engine, client, logs };
  rigs.push(r);
  return r;
}

/** An operation whose runs wait until the test lets each one finish. */
function gatedOp(name = 'test.op'): JobOperation & { runs: JobRun[]; release(outcome?: JobOutcome): void; started(n: number): Promise<void> } {
  const runs: JobRun[] = [];
  const gates: ((o: JobOutcome) => void)[] = [];
  const waiters: (() => void)[] = [];
  return {
    name,
    runs,
    run(job) {
      runs.push(job);
      waiters.splice(0).forEach((w) => w());
      return new Promise<JobOutcome>((resolve, reject) => {
        gates.push(resolve);
        job.signal.addEventListener('abort', () => reject(job.signal.reason as Error));
      });
    },
    release(outcome = { status: 'SUCCEEDED', details: { done: 'yes' } }) {
      gates.shift()?.(outcome);
    },
    async started(n) {
      while (runs.length < n) await new Promise<void>((r) => waiters.push(r));
    },
  };
}

const quickOp = (name: string, outcome: (job: JobRun) => Promise<JobOutcome> | JobOutcome): JobOperation => ({ name, run: async (job) => outcome(job) });
const status = (svc: FakeJobsService, jobId: string) => svc.executions.get(jobId)?.status;
const details = (svc: FakeJobsService, jobId: string) => svc.executions.get(jobId)?.statusDetails;

/** A rig with job `j` of a gated operation running. */
async function oneRunningJob(): Promise<{ r: Rig; op: ReturnType<typeof gatedOp> }> {
  const op = gatedOp();
  const r = rig([op]);
  await r.engine.onConnected();
  r.svc.createJob('j', { operation: 'test.op' });
  await op.started(1);
  return { r, op };
}

async function settled(r: Rig): Promise<void> {
  await r.engine.idle();
  await new Promise((resolve) => setImmediate(resolve));
  await r.engine.idle();
}

describe('jobs engine against a faithful fake Jobs service', () => {
  it('picks up a job queued while offline on connect: start-next with the step timeout, run, SUCCEEDED with details', async () => {
    const svc = new FakeJobsService(thing);
    svc.createJob('job-1', { operation: 'test.quick', n: 1 });
    const seen: JobRun[] = [];
    const r = rig([quickOp('test.quick', (job) => (seen.push(job), { status: 'SUCCEEDED', details: { result: 'fine' } }))], svc);
    await r.engine.onConnected();
    await settled(r);
    expect(seen.map((j) => j.document)).toEqual([{ operation: 'test.quick', n: 1 }]);
    expect(status(svc, 'job-1')).toBe('SUCCEEDED');
    expect(details(svc, 'job-1')).toEqual({ result: 'fine' });
    expect(svc.requestsTo('/start-next')[0]?.body).toMatchObject({ stepTimeoutInMinutes: 7 });
    expect(svc.requestsTo('/jobs/get')).toHaveLength(1); // asked for pending on connect
    for (const u of svc.requestsTo('/update')) {
      expect(typeof u.body['expectedVersion']).toBe('number');
      expect(typeof u.body['clientToken']).toBe('string');
    }
  });

  it('runs two jobs one at a time, in order: a notify-next during the first is remembered, not started', async () => {
    const op = gatedOp();
    const r = rig([op]);
    await r.engine.onConnected();
    r.svc.createJob('first', { operation: 'test.op' });
    await op.started(1);
    r.svc.createJob('second', { operation: 'test.op' });
    r.svc.deliver(topics.notifyNext, { timestamp: 1, execution: r.svc.view(r.svc.executions.get('second')!, true) }); // as if next changed
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(op.runs.map((j) => j.jobId)).toEqual(['first']);
    expect(status(r.svc, 'second')).toBe('QUEUED');
    op.release();
    await op.started(2);
    expect(op.runs.map((j) => j.jobId)).toEqual(['first', 'second']);
    expect(status(r.svc, 'first')).toBe('SUCCEEDED');
    op.release();
    await settled(r);
    expect(status(r.svc, 'second')).toBe('SUCCEEDED');
    expect(r.logs.some((l) => l['event'] === 'jobs.notify-next-queued')).toBe(true);
  });

  it('rejects an unknown operation naming the known ones, and a bad document saying what it must be', async () => {
    const svc = new FakeJobsService(thing);
    svc.createJob('unknown', { operation: 'cloudcam.format-disk' });
    svc.createJob('not-object', ['operation']);
    svc.createJob('no-operation', { op: 'cloudcam.restart' });
    const r = rig([quickOp('cloudcam.restart', () => ({ status: 'SUCCEEDED', details: {} })), quickOp('cloudcam.snapshot', () => ({ status: 'SUCCEEDED', details: {} }))], svc);
    await r.engine.onConnected();
    await settled(r);
    expect(status(svc, 'unknown')).toBe('REJECTED');
    expect(details(svc, 'unknown')?.['reason']).toBe('unknown operation "cloudcam.format-disk"; this agent knows: cloudcam.restart, cloudcam.snapshot');
    expect(status(svc, 'not-object')).toBe('REJECTED');
    expect(details(svc, 'not-object')?.['reason']).toContain('not an object');
    expect(status(svc, 'no-operation')).toBe('REJECTED');
    expect(details(svc, 'no-operation')?.['reason']).toContain('no "operation"');
  });

  it('settles a VersionMismatch (another writer moved the version) by retrying once at the current version', async () => {
    const { r, op } = await oneRunningJob();
    const e = r.svc.executions.get('j')!;
    e.versionNumber += 3; // an operator's or the service's own update we never saw
    await op.runs[0]!.progress({ stage: 'downloading' });
    op.release({ status: 'SUCCEEDED', details: { stage: 'done' } });
    await settled(r);
    expect(status(r.svc, 'j')).toBe('SUCCEEDED');
    const rejectedOnce = r.svc.requestsTo('/j/update').length;
    expect(rejectedOnce).toBe(3); // progress (mismatch), progress again, final
  });

  it('a lost update reply: the retry meets VersionMismatch, sees its own status applied and is done', async () => {
    const svc = new FakeJobsService(thing);
    svc.createJob('j', { operation: 'test.quick' });
    let dropped = 0;
    svc.dropReply = (req) => req.topic.endsWith('/j/update') && req.body['status'] === 'SUCCEEDED' && dropped++ === 0;
    const r = rig([quickOp('test.quick', () => ({ status: 'SUCCEEDED', details: { ok: 'yes' } }))], svc, 200);
    await r.engine.onConnected();
    await settled(r);
    expect(status(svc, 'j')).toBe('SUCCEEDED');
    expect(r.logs.some((l) => l['event'] === 'jobs.succeeded' && l['jobId'] === 'j'), JSON.stringify(r.logs)).toBe(true);
    expect(r.logs.some((l) => l['event'] === 'jobs.round-failed')).toBe(false);
  });

  it('a job cancelled while it runs: the operation is aborted, and CANCELED is never overwritten', async () => {
    const { r, op } = await oneRunningJob();
    const signal = op.runs[0]!.signal;
    const aborted = new Promise<unknown>((resolve) => signal.addEventListener('abort', () => resolve(signal.reason)));
    r.svc.setStatus('j', 'CANCELED'); // notify-next now says nothing is next
    expect(String(await aborted)).toContain('has ended'); // describe of a terminal execution: TerminalStateReached
    await settled(r);
    expect(status(r.svc, 'j')).toBe('CANCELED');
    expect(r.logs.some((l) => l['event'] === 'jobs.cancelled')).toBe(true);
  });

  it('a notify-next flood while a job runs: one describe in flight at a time and one log line, not one per message', async () => {
    const { r, op } = await oneRunningJob();
    r.svc.dropReply = (req) => req.topic.endsWith('/j/get'); // the service is slow to answer
    for (let i = 0; i < 500; i++) r.svc.deliver(topics.notifyNext, { timestamp: i }); // "nothing is next"
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.svc.requestsTo('/j/get')).toHaveLength(1);
    expect(r.logs.filter((l) => l['event'] === 'jobs.notify-next-queued')).toHaveLength(1);
    r.svc.dropReply = () => false;
    op.release();
    await settled(r);
    expect(status(r.svc, 'j')).toBe('SUCCEEDED');
    expect(op.runs).toHaveLength(1);
  });

  it('a progress update rejected as terminal (InvalidStateTransition, TIMED_OUT) aborts the operation', async () => {
    const { r, op } = await oneRunningJob();
    const e = r.svc.executions.get('j')!;
    e.status = 'TIMED_OUT'; // no notify-next: only the update can tell
    await expect(op.runs[0]!.progress({ stage: 'x' })).rejects.toThrow(/TIMED_OUT/);
    expect(op.runs[0]!.signal.aborted).toBe(true);
    await settled(r);
    expect(status(r.svc, 'j')).toBe('TIMED_OUT');
  });

  it('ignores what is not for this thing: another thing in notify-next, another thing\'s topic, our token on another topic', async () => {
    const op = gatedOp();
    const r = rig([op]);
    await r.engine.onConnected();
    await settled(r);
    const foreign = { jobId: 'evil', thingName: 'cam-2', status: 'QUEUED', versionNumber: 1, executionNumber: 1, queuedAt: 1, lastUpdatedAt: 1, jobDocument: { operation: 'test.op' } };
    r.svc.deliver(topics.notifyNext, { timestamp: 1, execution: foreign });
    await r.svc.link.subscribe([jobsTopics('cam-2').notifyNext], 1); // as if the link delivered it anyway
    r.svc.deliver(jobsTopics('cam-2').notifyNext, { timestamp: 1, execution: { ...foreign, thingName: thing } });
    await settled(r);
    expect(op.runs).toHaveLength(0);
    expect(r.svc.requestsTo('/start-next')).toHaveLength(1); // only the one on connect
    expect(r.logs.find((l) => l['event'] === 'jobs.message-ignored')?.['why']).toContain('cam-2');

    // A start-next reply for another thing's execution is refused, not run.
    r.svc.dropReply = (req) => req.topic.endsWith('/start-next');
    const pending = r.client.startNext({});
    await new Promise((resolve) => setImmediate(resolve));
    const token = r.svc.requestsTo('/start-next').at(-1)!.body['clientToken'];
    r.svc.deliver(`${topics.getPending}/accepted`, { clientToken: token, inProgressJobs: [], queuedJobs: [], timestamp: 1 }); // wrong topic: ignored
    r.svc.deliver(`${topics.startNext}/accepted`, { clientToken: token, timestamp: 1, execution: foreign });
    await expect(pending).rejects.toThrow(/cam-2/);
  });

  it('resumes a handed-over execution after a restart through the operation\'s resume; one without resume ends FAILED (interrupted)', async () => {
    const svc = new FakeJobsService(thing);
    svc.createJob('restarted', { operation: 'test.resumable' });
    svc.createJob('crashed', { operation: 'test.plain' });
    for (const id of ['restarted', 'crashed']) svc.setStatus(id, 'IN_PROGRESS', { stage: 'handed' });
    const resumed: JobRun[] = [];
    const resumable: JobOperation = { name: 'test.resumable', run: () => Promise.reject(new Error('must not run again')), resume: async (job) => (resumed.push(job), { status: 'SUCCEEDED', details: { stage: 'finished' } }) };
    const r = rig([resumable, quickOp('test.plain', () => Promise.reject(new Error('must not run again')))], svc);
    await r.engine.onConnected();
    await settled(r);
    expect(resumed.map((j) => j.statusDetails)).toEqual([{ stage: 'handed' }]);
    expect(status(svc, 'restarted')).toBe('SUCCEEDED');
    expect(status(svc, 'crashed')).toBe('FAILED');
    expect(details(svc, 'crashed')?.['reason']).toContain('interrupted');
  });

  it('never resumes an execution this same process handed over (it reconnects before it exits)', async () => {
    const svc = new FakeJobsService(thing);
    svc.createJob('r', { operation: 'test.handover' });
    const resumes: JobRun[] = [];
    const op: JobOperation = { name: 'test.handover', run: async () => ({ status: 'HANDED_OVER', details: { stage: 'restarting' } }), resume: async (job) => (resumes.push(job), { status: 'SUCCEEDED', details: {} }) };
    const r = rig([op], svc);
    await r.engine.onConnected();
    await settled(r);
    expect(status(svc, 'r')).toBe('IN_PROGRESS');
    expect(details(svc, 'r')).toEqual({ stage: 'restarting' });
    await r.engine.onConnected(); // a reconnect
    await settled(r);
    expect(resumes).toHaveLength(0);
    expect(status(svc, 'r')).toBe('IN_PROGRESS');
  });

  it('a hand-over whose report is lost (disconnected) is still never run again nor resumed by this process', async () => {
    const svc = new FakeJobsService(thing);
    svc.createJob('r', { operation: 'test.handover' });
    const runs: JobRun[] = [];
    const resumes: JobRun[] = [];
    const op: JobOperation = {
      name: 'test.handover',
      run: async (job) => {
        runs.push(job);
        svc.connected = false; // the link drops as the install finishes
        return { status: 'HANDED_OVER', details: { stage: 'installed' } };
      },
      resume: async (job) => (resumes.push(job), { status: 'SUCCEEDED', details: {} }),
    };
    const r = rig([op], svc);
    await r.engine.onConnected();
    await settled(r);
    svc.connected = true;
    await r.engine.onConnected(); // the reconnect before this process exits
    await settled(r);
    expect(runs).toHaveLength(1);
    expect(resumes).toHaveLength(0);
    expect(status(svc, 'r')).toBe('IN_PROGRESS'); // for the next process to finish
  });

  it('keeps statusDetails within AWS limits whatever the operation returns', async () => {
    const svc = new FakeJobsService(thing);
    svc.createJob('j', { operation: 'test.quick' });
    const r = rig([quickOp('test.quick', () => ({ status: 'FAILED', details: { reason: 'x'.repeat(5000), 'bad key!': 'v', empty: '' } }))], svc);
    await r.engine.onConnected();
    await settled(r);
    expect(status(svc, 'j')).toBe('FAILED');
    expect(Object.keys(details(svc, 'j')!)).toEqual(['reason']);
    expect(details(svc, 'j')?.['reason']).toHaveLength(JOBS_LIMITS.statusDetailsValueMaxLength);
  });

  it('a multi-line error text still reaches the execution: AWS refuses control characters and lone surrogates in values', async () => {
    const svc = new FakeJobsService(thing);
    svc.createJob('j', { operation: 'test.quick' });
    // An installer's stderr, and a long text whose cut would fall inside a surrogate pair (an emoji).
    const long = `${'x'.repeat(JOBS_LIMITS.statusDetailsValueMaxLength - 2)}\u{1F600}tail`;
    const r = rig([quickOp('test.quick', () => ({ status: 'FAILED', details: { reason: 'install failed:\n\tError: 2\r\n', long, nul: '\u0000' } }))], svc);
    await r.engine.onConnected();
    await settled(r);
    expect(r.logs.some((l) => l['event'] === 'jobs.round-failed'), JSON.stringify(r.logs)).toBe(false);
    expect(status(svc, 'j')).toBe('FAILED');
    expect(details(svc, 'j')?.['reason']).toBe('install failed: Error: 2');
    expect(details(svc, 'j')?.['long']).toBe(`${'x'.repeat(JOBS_LIMITS.statusDetailsValueMaxLength - 2)}…`);
    expect(details(svc, 'j')).not.toHaveProperty('nul');
  });

  it('an operation that throws ends FAILED with its error', async () => {
    const svc = new FakeJobsService(thing);
    svc.createJob('j', { operation: 'test.quick' });
    const r = rig([quickOp('test.quick', () => Promise.reject(new Error('camera unreachable')))], svc);
    await r.engine.onConnected();
    await settled(r);
    expect(status(svc, 'j')).toBe('FAILED');
    expect(details(svc, 'j')?.['reason']).toBe('test.quick failed: camera unreachable');
  });

  it('a final status that could not be written (disconnected) is written after the next connect, the job not run again', async () => {
    const { r, op } = await oneRunningJob();
    r.svc.connected = false;
    op.release({ status: 'SUCCEEDED', details: { result: 'late' } });
    await settled(r);
    expect(status(r.svc, 'j')).toBe('IN_PROGRESS');
    r.svc.connected = true;
    await r.engine.onConnected();
    await settled(r);
    expect(status(r.svc, 'j')).toBe('SUCCEEDED');
    expect(details(r.svc, 'j')).toEqual({ result: 'late' });
    expect(op.runs).toHaveLength(1);
  });

  it('stops at once when the Jobs service does not answer (no wait for the reply timeout), and logs no failure for it', async () => {
    const svc = new FakeJobsService(thing);
    svc.dropReply = () => true;
    const r = rig([], svc, 10_000);
    await r.engine.onConnected();
    const started = Date.now();
    await r.engine.stop(5000);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(r.logs.some((l) => l['event'] === 'jobs.round-failed')).toBe(false);
  });

  it('aborts an operation still running when its step timeout passes (AWS times the execution out then too)', async () => {
    const op = gatedOp();
    const r = rig([op], new FakeJobsService(thing), 2000, 0.002); // 120 ms
    r.svc.createJob('slow', { operation: 'test.op' });
    await r.engine.onConnected();
    await op.started(1);
    await new Promise((resolve) => op.runs[0]!.signal.addEventListener('abort', resolve));
    await settled(r);
    expect(status(r.svc, 'slow')).toBe('FAILED');
    expect(details(r.svc, 'slow')?.['reason']).toBe('test.op failed: the step timeout of 0.002 min passed');
  });
});
