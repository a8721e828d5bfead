/**
 * devcloud's Jobs service checked against AWS's Jobs documentation (docs/protocol-jobs.md cites each
 * rule) by an independent client: plain mqtt.js over mutual TLS with a thing's certificate, no agent
 * code. The operator side goes through src/cloud/jobs-admin.ts (devcloud's control API). Both brokers.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devcloudJobsAdmin, type JobsAdmin } from '../../src/cloud/jobs-admin.js';
import { uploadRelease } from '../../src/cloud/releases.js';
import { MQTT_MATRIX, startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { JobsDevice } from '../helpers/jobs-device.js';

/** One Jobs minute in these tests: timeouts and the rollout rate run 120x faster than in AWS. */
const MINUTE_MS = 500;

let jobCounter = 0;
const newJobId = (label: string): string => `${label}-${Date.now().toString(36)}-${++jobCounter}`;

describe.each(MQTT_MATRIX)('devcloud Jobs service ($label)', ({ broker, mqttVersion }) => {
  let tdc: TestDevcloud;
  let admin: JobsAdmin;
  const devices: JobsDevice[] = [];
  /** Each test gets things of its own, so pending lists do not mix. */
  let nextThing = 0;
  const takeThings = (n: number): string[] => Array.from({ length: n }, () => `camera-${++nextThing}`);
  const device = async (thing: string): Promise<JobsDevice> => {
    const d = await JobsDevice.connect(tdc.dc.info, thing, mqttVersion);
    devices.push(d);
    return d;
  };

  beforeAll(async () => {
    tdc = await startTestDevcloud({ broker, cameras: 24, jobsMinuteMs: MINUTE_MS });
    admin = await devcloudJobsAdmin(tdc.dir);
  });
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.end()));
    await tdc.cleanup();
  });

  it('get pending: empty lists, then the queued job, with timestamp and the clientToken echoed', async () => {
    const [thing] = takeThings(1);
    const d = await device(thing!);
    const empty = await d.request('get', { clientToken: 'my-token' });
    expect(empty.kind).toBe('accepted');
    expect(empty.body).toMatchObject({ inProgressJobs: [], queuedJobs: [], clientToken: 'my-token' });
    expect(typeof empty.body.timestamp).toBe('number');

    const jobId = newJobId('pending');
    await admin.createJob({ jobId, things: [thing!], document: { operation: 'cloudcam.restart' } });
    const listed = await d.request('get');
    expect(listed.body.inProgressJobs).toEqual([]);
    expect(listed.body.queuedJobs).toEqual([expect.objectContaining({ jobId, versionNumber: 1, executionNumber: 1 })]);
    const summary = (listed.body.queuedJobs as Record<string, unknown>[])[0]!;
    expect(Object.keys(summary).sort()).toEqual(['executionNumber', 'jobId', 'lastUpdatedAt', 'queuedAt', 'versionNumber']);
  });

  it('a new job sends notify (QUEUED summaries) and notify-next (the execution with its document)', async () => {
    const [thing] = takeThings(1);
    const d = await device(thing!);
    const since = d.mark();
    const jobId = newJobId('notify');
    await admin.createJob({ jobId, things: [thing!], document: { operation: 'cloudcam.snapshot' } });
    const notify = await d.waitFor(`${d.base}/notify`, since);
    expect(notify.body).toMatchObject({ jobs: { QUEUED: [expect.objectContaining({ jobId })] } });
    const next = await d.waitFor(`${d.base}/notify-next`, since);
    expect(next.body.execution).toMatchObject({ jobId, thingName: thing, status: 'QUEUED', versionNumber: 1, jobDocument: { operation: 'cloudcam.snapshot' } });
  });

  it('notify and notify-next follow the worked example of jobs-comm-notifications: list changes vs. a new head only', async () => {
    const [thing] = takeThings(1);
    const d = await device(thing!);
    const since = d.mark();
    const [job1, job2, job3] = [newJobId('job1'), newJobId('job2'), newJobId('job3')];
    await admin.createJob({ jobId: job1, things: [thing!], document: { operation: 'test' } }); // notify + notify-next(job1)
    await admin.createJob({ jobId: job2, things: [thing!], document: { operation: 'test' } }); // notify only
    await d.request('start-next'); // job1 IN_PROGRESS: neither
    await admin.createJob({ jobId: job3, things: [thing!], document: { operation: 'test' } }); // notify only
    await d.request(`${job1}/update`, { status: 'SUCCEEDED' }); // notify + notify-next(job2)
    await d.request(`${job3}/update`, { status: 'IN_PROGRESS' }); // notify-next(job3) only
    await d.request(`${job2}/update`, { status: 'REJECTED' }); // notify only
    await d.request(`${job3}/update`, { status: 'SUCCEEDED' }); // notify {} + notify-next without execution
    await d.waitFor(`${d.base}/notify-next`, since, (b) => b.execution === undefined);
    const seen = d.messages
      .slice(since)
      .filter((m) => m.topic.endsWith('/notify') || m.topic.endsWith('/notify-next'))
      .map((m) => {
        if (m.topic.endsWith('/notify-next')) return `next:${(m.body.execution?.jobId as string | undefined) ?? '-'}`;
        const jobs = m.body.jobs as Record<string, { jobId: string }[]>;
        return `list:${['IN_PROGRESS', 'QUEUED'].map((s) => (jobs[s] ?? []).map((j) => j.jobId).join('+') || '-').join('/')}`;
      });
    expect(seen).toEqual([
      `list:-/${job1}`,
      `next:${job1}`,
      `list:-/${job1}+${job2}`,
      `list:${job1}/${job2}+${job3}`,
      `list:-/${job2}+${job3}`,
      `next:${job2}`,
      `next:${job3}`,
      `list:${job3}/-`,
      'list:-/-',
      'next:-',
    ]);
  });

  it('start-next starts the next QUEUED execution (IN_PROGRESS, version+1, statusDetails); again it returns the same one unchanged', async () => {
    const [thing] = takeThings(1);
    const d = await device(thing!);
    const nothing = await d.request('start-next');
    expect(nothing.kind).toBe('accepted');
    expect(nothing.body.execution).toBeUndefined();

    const first = newJobId('first');
    const second = newJobId('second');
    await admin.createJob({ jobId: first, things: [thing!], document: { n: 1 } });
    await admin.createJob({ jobId: second, things: [thing!], document: { n: 2 } });
    const started = await d.request('start-next', { statusDetails: { step: 'downloading' } });
    expect(started.body.execution).toMatchObject({ jobId: first, status: 'IN_PROGRESS', versionNumber: 2, statusDetails: { step: 'downloading' }, jobDocument: { n: 1 } });
    expect(typeof started.body.execution!.startedAt).toBe('number');
    const again = await d.request('start-next');
    expect(again.body.execution).toMatchObject({ jobId: first, status: 'IN_PROGRESS', versionNumber: 2 });
  });

  it('describe: $next without changing it, by job id, includeJobDocument=false, unknown job → ResourceNotFound', async () => {
    const [thing] = takeThings(1);
    const d = await device(thing!);
    const none = await d.request('$next/get');
    expect(none.kind).toBe('accepted');
    expect(none.body.execution).toBeUndefined();

    const jobId = newJobId('describe');
    await admin.createJob({ jobId, things: [thing!], document: { hello: 'world' } });
    const next = await d.request('$next/get');
    expect(next.body.execution).toMatchObject({ jobId, status: 'QUEUED', versionNumber: 1, jobDocument: { hello: 'world' } });
    const byId = await d.request(`${jobId}/get`, { includeJobDocument: false });
    expect(byId.body.execution).toMatchObject({ jobId, status: 'QUEUED' });
    expect(byId.body.execution!.jobDocument).toBeUndefined();
    const wrongNumber = await d.request(`${jobId}/get`, { executionNumber: 7 });
    expect(wrongNumber).toMatchObject({ kind: 'rejected', body: { code: 'ResourceNotFound' } });
    const missing = await d.request('no-such-job/get', { clientToken: 'tok-404' });
    expect(missing).toMatchObject({ kind: 'rejected', body: { code: 'ResourceNotFound', clientToken: 'tok-404' } });
    expect(typeof missing.body.message).toBe('string');
    expect(typeof missing.body.timestamp).toBe('number');
  });

  it('update: expectedVersion mismatch → VersionMismatch with executionState; a match is accepted with executionState and jobDocument on request', async () => {
    const [thing] = takeThings(1);
    const d = await device(thing!);
    const jobId = newJobId('version');
    await admin.createJob({ jobId, things: [thing!], document: { v: 1 } });
    const stale = await d.request(`${jobId}/update`, { status: 'IN_PROGRESS', expectedVersion: 5 });
    expect(stale).toMatchObject({ kind: 'rejected', body: { code: 'VersionMismatch', executionState: { status: 'QUEUED', versionNumber: 1 } } });
    const ok = await d.request(`${jobId}/update`, {
      status: 'IN_PROGRESS',
      expectedVersion: 1,
      statusDetails: { step: 'one' },
      includeJobExecutionState: true,
      includeJobDocument: true,
    });
    expect(ok).toMatchObject({ kind: 'accepted', body: { executionState: { status: 'IN_PROGRESS', versionNumber: 2, statusDetails: { step: 'one' } }, jobDocument: { v: 1 } } });
    const plain = await d.request(`${jobId}/update`, { status: 'IN_PROGRESS', expectedVersion: 2, statusDetails: { progress: '50' } });
    expect(plain.kind).toBe('accepted');
    expect(plain.body.executionState).toBeUndefined();
    expect(plain.body.jobDocument).toBeUndefined();
    const state = await d.request(`${jobId}/get`);
    // statusDetails of successive updates are merged, as AWS's UpdateJobExecution does.
    expect(state.body.execution).toMatchObject({ versionNumber: 3, statusDetails: { step: 'one', progress: '50' } });
  });

  it('a terminal execution: update → InvalidStateTransition, describe → TerminalStateReached; notify-next then carries no execution and the job is COMPLETED', async () => {
    const [thing] = takeThings(1);
    const d = await device(thing!);
    const jobId = newJobId('terminal');
    await admin.createJob({ jobId, things: [thing!], document: { op: 'x' } });
    await d.request('start-next');
    const since = d.mark();
    const done = await d.request(`${jobId}/update`, { status: 'SUCCEEDED', statusDetails: { result: 'ok' } });
    expect(done.kind).toBe('accepted');
    const empty = await d.waitFor(`${d.base}/notify-next`, since);
    expect(empty.body.execution).toBeUndefined();
    const notify = await d.waitFor(`${d.base}/notify`, since);
    expect(notify.body.jobs).toEqual({});

    const back = await d.request(`${jobId}/update`, { status: 'IN_PROGRESS' });
    expect(back).toMatchObject({ kind: 'rejected', body: { code: 'InvalidStateTransition', executionState: { status: 'SUCCEEDED', versionNumber: 3 } } });
    const described = await d.request(`${jobId}/get`);
    expect(described).toMatchObject({ kind: 'rejected', body: { code: 'TerminalStateReached' } });
    expect(await admin.describeJob(jobId)).toEqual({ status: 'COMPLETED', executions: [{ thingName: thing, status: 'SUCCEEDED', statusDetails: { result: 'ok' }, versionNumber: 3 }] });
  });

  it('refuses bad requests: InvalidJson, InvalidTopic, InvalidRequest (status, clientToken over 64, statusDetails limits, step timeout range)', async () => {
    const [thing] = takeThings(1);
    const d = await device(thing!);
    const jobId = newJobId('invalid');
    await admin.createJob({ jobId, things: [thing!], document: { op: 'x' } });
    expect(await d.raw('get', '{not json')).toMatchObject({ code: 'InvalidJson' });
    expect(await d.raw('get', Buffer.from([0x7b, 0xff, 0x7d]))).toMatchObject({ code: 'InvalidJson' });
    expect(await d.raw('frobnicate', '{}')).toMatchObject({ code: 'InvalidTopic' });
    expect(await d.raw(`${jobId}/delete`, '{}')).toMatchObject({ code: 'InvalidTopic' });
    const cases: [string, Record<string, unknown>][] = [
      ['a status only Jobs may set', { status: 'TIMED_OUT' }],
      ['an unknown status', { status: 'DONE' }],
      ['a clientToken over 64 characters', { status: 'IN_PROGRESS', clientToken: 'x'.repeat(65) }],
      ['a statusDetails key outside [a-zA-Z0-9:_-]', { status: 'IN_PROGRESS', statusDetails: { 'bad key': 'v' } }],
      ['a statusDetails value over 1024 characters', { status: 'IN_PROGRESS', statusDetails: { k: 'v'.repeat(1025) } }],
      ['a statusDetails value that is not a string', { status: 'IN_PROGRESS', statusDetails: { k: 5 } }],
      ['a step timeout of 0', { status: 'IN_PROGRESS', stepTimeoutInMinutes: 0 }],
      ['a step timeout over 10080', { status: 'IN_PROGRESS', stepTimeoutInMinutes: 10_081 }],
      ['a negative expectedVersion', { status: 'IN_PROGRESS', expectedVersion: -3 }],
    ];
    for (const [why, body] of cases) {
      const topic = `${d.base}/${jobId}/update/rejected`;
      const since = d.mark();
      await d.client.publishAsync(`${d.base}/${jobId}/update`, JSON.stringify(body), { qos: 1 });
      const reply = await d.waitFor(topic, since);
      expect(reply.body.code, why).toBe('InvalidRequest');
    }
    const late = await d.request('start-next', { stepTimeoutInMinutes: 10_081 });
    expect(late).toMatchObject({ kind: 'rejected', body: { code: 'InvalidRequest' } });
    // None of the refused requests changed the execution.
    expect((await d.request(`${jobId}/get`)).body.execution).toMatchObject({ status: 'QUEUED', versionNumber: 1 });
  });

  it('a step timeout ends the execution TIMED_OUT (approximateSecondsBeforeTimedOut counts down); a new step timeout resets it, -1 cancels it', async () => {
    const [thing, other] = takeThings(2);
    const d = await device(thing!);
    const jobId = newJobId('step');
    await admin.createJob({ jobId, things: [thing!], document: { op: 'x' } });
    // Measured before the request: the service starts the timer after this instant, never before.
    const startedAt = Date.now();
    const started = await d.request('start-next', { stepTimeoutInMinutes: 1 });
    expect(started.body.execution).toMatchObject({ status: 'IN_PROGRESS' });
    const left = started.body.execution!.approximateSecondsBeforeTimedOut as number;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(60);
    const since = d.mark();
    const next = await d.waitFor(`${d.base}/notify-next`, since);
    expect(next.body.execution).toBeUndefined();
    expect(next.at - startedAt).toBeGreaterThanOrEqual(MINUTE_MS);
    expect(await admin.describeJob(jobId)).toMatchObject({ status: 'COMPLETED', executions: [{ status: 'TIMED_OUT' }] });
    const late = await d.request(`${jobId}/update`, { status: 'SUCCEEDED' });
    expect(late).toMatchObject({ kind: 'rejected', body: { code: 'InvalidStateTransition', executionState: { status: 'TIMED_OUT' } } });

    // -1 cancels the step timer: no timer is left running.
    const d2 = await device(other!);
    const kept = newJobId('step-cancel');
    await admin.createJob({ jobId: kept, things: [other!], document: { op: 'x' } });
    const running = await d2.request('start-next', { stepTimeoutInMinutes: 10 });
    expect(running.body.execution!.approximateSecondsBeforeTimedOut).toBeGreaterThan(60);
    const cancelled = await d2.request(`${kept}/update`, { status: 'IN_PROGRESS', stepTimeoutInMinutes: -1, includeJobExecutionState: true });
    expect(cancelled.kind).toBe('accepted');
    const described = await d2.request(`${kept}/get`);
    expect(described.body.execution!.approximateSecondsBeforeTimedOut).toBeUndefined();
  });

  it('the job in-progress timeout (timeoutInMinutes) ends an IN_PROGRESS execution TIMED_OUT even while the device reports progress', async () => {
    const [thing] = takeThings(1);
    const d = await device(thing!);
    const jobId = newJobId('inprogress');
    await admin.createJob({ jobId, things: [thing!], document: { op: 'x' }, timeoutInMinutes: 1 });
    // QUEUED executions do not time out: the timer starts with IN_PROGRESS.
    const started = await d.request(`${jobId}/update`, { status: 'IN_PROGRESS', stepTimeoutInMinutes: 10 });
    expect(started.kind).toBe('accepted');
    const since = d.mark();
    await d.request(`${jobId}/update`, { status: 'IN_PROGRESS', stepTimeoutInMinutes: 10, statusDetails: { progress: '10' } });
    await d.waitFor(`${d.base}/notify-next`, since, (b) => b.execution === undefined);
    expect(await admin.describeJob(jobId)).toMatchObject({ executions: [{ status: 'TIMED_OUT' }] });
  });

  it('rollout: maximumPerMinute releases executions to things at that rate', async () => {
    const things = takeThings(3);
    const ds = await Promise.all(things.map((t) => device(t)));
    const marks = ds.map((d) => d.mark());
    const jobId = newJobId('rollout');
    const created = Date.now();
    await admin.createJob({ jobId, things, document: { op: 'x' }, rollout: { maximumPerMinute: 1 } });
    expect((await admin.describeJob(jobId)).executions.map((e) => e.thingName)).toEqual([things[0]]);
    const arrivals = await Promise.all(ds.map((d, i) => d.waitFor(`${d.base}/notify-next`, marks[i]!, (b) => b.execution?.jobId === jobId)));
    const offsets = arrivals.map((a) => a.at - created);
    // Batch k is released k minutes after CreateJob (measured from before the call, so no slack is needed).
    expect(offsets[1]!).toBeGreaterThanOrEqual(MINUTE_MS);
    expect(offsets[2]!).toBeGreaterThanOrEqual(2 * MINUTE_MS);
    expect((await admin.describeJob(jobId)).executions).toHaveLength(3);
  });

  it('abort: failures over the threshold after minNumberOfExecutedThings cancel the job and its QUEUED executions', async () => {
    const things = takeThings(4);
    const [first, second, ...rest] = await Promise.all(things.map((t) => device(t)));
    const jobId = newJobId('abort');
    await admin.createJob({ jobId, things, document: { op: 'x' }, abort: { failedPercent: 50, minNumberOfExecutedThings: 2 } });
    await first!.request(`${jobId}/update`, { status: 'FAILED', statusDetails: { reason: 'bad hash' } });
    // One failure of one executed thing: under minNumberOfExecutedThings, the job goes on.
    expect((await admin.describeJob(jobId)).status).toBe('IN_PROGRESS');
    const marks = rest.map((d) => d.mark());
    await second!.request(`${jobId}/update`, { status: 'REJECTED', statusDetails: { reason: 'downgrade' } });
    for (const [i, d] of rest.entries()) await d.waitFor(`${d.base}/notify-next`, marks[i]!, (b) => b.execution === undefined);
    const described = await admin.describeJob(jobId);
    expect(described.status).toBe('CANCELED');
    expect(described.executions.map((e) => e.status)).toEqual(['FAILED', 'REJECTED', 'CANCELED', 'CANCELED']);
  });

  it('cancel: QUEUED executions become CANCELED; an IN_PROGRESS one may still finish', async () => {
    const [busy, idle] = takeThings(2);
    const [b, i] = [await device(busy!), await device(idle!)];
    const jobId = newJobId('cancel');
    await admin.createJob({ jobId, things: [busy!, idle!], document: { op: 'x' } });
    await b.request('start-next');
    const since = i.mark();
    await admin.cancelJob!(jobId);
    await i.waitFor(`${i.base}/notify-next`, since, (body) => body.execution === undefined);
    expect((await admin.describeJob(jobId)).executions.map((e) => [e.thingName, e.status])).toEqual([
      [busy, 'IN_PROGRESS'],
      [idle, 'CANCELED'],
    ]);
    expect((await b.request(`${jobId}/update`, { status: 'SUCCEEDED' })).kind).toBe('accepted');
    expect(await i.request(`${jobId}/update`, { status: 'IN_PROGRESS' })).toMatchObject({ kind: 'rejected', body: { code: 'InvalidStateTransition' } });
    expect((await admin.describeJob(jobId)).status).toBe('CANCELED');
  });

  it('presigned-URL placeholders become a presigned GET of the release bucket at each delivery, valid for expiresInSec', async () => {
    const [thing] = takeThings(1);
    const d = await device(thing!);
    const body = Buffer.from(`release package ${Date.now()}`);
    const uploaded = await uploadRelease({ devcloudDir: tdc.dir }, `packages/${thing}/cloudcam.eap`, body);
    expect(uploaded.bucket).toBe(tdc.dc.info.s3.releaseBucket);
    const jobId = newJobId('presign');
    await admin.createJob({ jobId, things: [thing!], document: { operation: 'cloudcam.update', package: { url: uploaded.placeholder } }, presignedUrlConfig: { expiresInSec: 120 } });
    const next = await d.request('$next/get');
    const url = (next.body.execution!.jobDocument as { package: { url: string } }).package.url;
    expect(url.startsWith(`${tdc.dc.info.s3.url}/${uploaded.bucket}/packages/`)).toBe(true);
    const parsed = new URL(url);
    expect(parsed.searchParams.get('X-Amz-Expires')).toBe('120');
    expect(parsed.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    const got = await fetch(url);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer())).toEqual(body);
    // The stored document keeps the placeholder; a tampered URL is refused by the S3 stand-in.
    expect((await fetch(url.replace('packages/', 'packages/x'))).status).toBe(403);
  });

  it('CreateJob refusals: unknown thing, duplicate id, bad id, placeholder without presignedUrlConfig or for another bucket, out-of-range configs', async () => {
    const [thing] = takeThings(1);
    const jobId = newJobId('admin');
    await expect(admin.createJob({ jobId, things: ['camera-999'], document: {} })).rejects.toThrow(/\(404\).*camera-999 does not exist/);
    await admin.createJob({ jobId, things: [thing!], document: {} });
    await expect(admin.createJob({ jobId, things: [thing!], document: {} })).rejects.toThrow(/\(409\).*already exists/);
    await expect(admin.createJob({ jobId: 'bad id!', things: [thing!], document: {} })).rejects.toThrow(/\(400\).*jobId/);
    await expect(admin.createJob({ jobId: newJobId('a'), things: [thing!], document: [1, 2] })).rejects.toThrow(/JSON object/);
    const foreign = '${aws:iot:s3-presigned-url:https://s3.amazonaws.com/someone-elses-bucket/x.eap}';
    await expect(admin.createJob({ jobId: newJobId('a'), things: [thing!], document: { url: foreign } })).rejects.toThrow(/someone-elses-bucket/);
    const ours = `\${aws:iot:s3-presigned-url:https://s3.amazonaws.com/${tdc.dc.info.s3.releaseBucket}/x.eap}`;
    await expect(admin.createJob({ jobId: newJobId('a'), things: [thing!], document: { url: ours }, presignedUrlConfig: { expiresInSec: 30 } })).rejects.toThrow(/expiresInSec.*60 to 3600/);
    await expect(admin.createJob({ jobId: newJobId('a'), things: [thing!], document: {}, rollout: { maximumPerMinute: 0 } })).rejects.toThrow(/maximumPerMinute/);
    await expect(admin.createJob({ jobId: newJobId('a'), things: [thing!], document: {}, abort: { failedPercent: 120, minNumberOfExecutedThings: 1 } })).rejects.toThrow(/thresholdPercentage/);
    await expect(admin.createJob({ jobId: newJobId('a'), things: [thing!], document: {}, timeoutInMinutes: 10_081 })).rejects.toThrow(/inProgressTimeoutInMinutes/);
    await expect(admin.describeJob('no-such-job')).rejects.toThrow(/\(404\)/);
  });

  it("a device sees only its own jobs topics: another thing's are refused by the broker, its forged requests never reach the service", async () => {
    const [mine, theirs] = takeThings(2);
    const d = await device(mine!);
    const victim = await device(theirs!);
    for (const filter of [`$aws/things/${theirs}/jobs/notify-next`, `$aws/things/${theirs}/jobs/#`, '$aws/things/+/jobs/#']) {
      await expect(d.client.subscribeAsync(filter, { qos: 1 }), filter).rejects.toThrow(/Subscribe error/);
    }
    const jobId = newJobId('acl');
    await admin.createJob({ jobId, things: [theirs!], document: { op: 'x' } });
    // mosquitto (MQTT 5) answers PUBACK 0x87; aedes drops the publish silently.
    await d.client.publishAsync(`$aws/things/${theirs}/jobs/start-next`, '{}', { qos: 1 }).catch(() => undefined);
    await d.client.publishAsync(`$aws/things/${theirs}/jobs/${jobId}/update`, '{"status":"FAILED"}', { qos: 1 }).catch(() => undefined);
    // Anything the broker had let through reached the service before this request (one cloud connection, in order).
    expect((await victim.request(`${jobId}/get`)).body.execution).toMatchObject({ status: 'QUEUED', versionNumber: 1 });
  });
});

describe('devcloud Jobs service across a restart', () => {
  it('keeps jobs, executions and their versions in the state dir', async () => {
    const broker = MQTT_MATRIX[0]!.broker;
    const first = await startTestDevcloud({ broker, cameras: 1, jobsMinuteMs: MINUTE_MS });
    const dir = first.dir;
    try {
      const admin = await devcloudJobsAdmin(dir);
      await admin.createJob({ jobId: 'persisted', things: ['camera-1'], document: { op: 'x' } });
      const d = await JobsDevice.connect(first.dc.info, 'camera-1', MQTT_MATRIX[0]!.mqttVersion);
      await d.request('start-next', { statusDetails: { step: 'before-restart' } });
      await d.end();
      await first.dc.stop();

      const second = await startTestDevcloud({ broker, cameras: 1, jobsMinuteMs: MINUTE_MS, dir });
      try {
        const again = await devcloudJobsAdmin(dir);
        expect(await again.describeJob('persisted')).toEqual({
          status: 'IN_PROGRESS',
          executions: [{ thingName: 'camera-1', status: 'IN_PROGRESS', statusDetails: { step: 'before-restart' }, versionNumber: 2 }],
        });
        const d2 = await JobsDevice.connect(second.dc.info, 'camera-1', MQTT_MATRIX[0]!.mqttVersion);
        const next = await d2.request('$next/get');
        expect(next.body.execution).toMatchObject({ jobId: 'persisted', status: 'IN_PROGRESS', versionNumber: 2 });
        await d2.end();
      } finally {
        await second.dc.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
