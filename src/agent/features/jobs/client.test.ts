import { describe, expect, it } from 'vitest';
import { jobsTopics } from '../../../protocol/jobs.js';
import { JobsClient, JobsRejectedError, JobsTimeoutError } from './client.js';
import { FakeJobsService } from './fake-jobs-service.js';

const t = jobsTopics('cam-1');

describe('JobsClient', () => {
  it('subscribes by name to notify-next and its replies, no wildcards; a watched job\'s topics come back on every connect', async () => {
    const svc = new FakeJobsService('cam-1');
    const client = new JobsClient(svc.link, 'cam-1');
    await client.subscribe();
    for (const topic of [t.notifyNext, `${t.getPending}/accepted`, `${t.getPending}/rejected`, `${t.startNext}/accepted`, `${t.startNext}/rejected`]) expect(svc.isSubscribed(topic)).toBe(true);
    await client.watch('job-1');
    await svc.link.unsubscribe([`${t.update('job-1')}/accepted`]); // a clean session forgot it
    await client.subscribe();
    expect(svc.isSubscribed(`${t.update('job-1')}/accepted`)).toBe(true);
    await client.unwatch('job-1');
    expect(svc.isSubscribed(`${t.update('job-1')}/rejected`)).toBe(false);
    client.close();
  });

  it('a rejected reply carries AWS\'s code and the current state; no reply is a timeout naming the topic', async () => {
    const svc = new FakeJobsService('cam-1');
    const client = new JobsClient(svc.link, 'cam-1', 100);
    await client.subscribe();
    await client.watch('nope');
    const err = await client.update('nope', { status: 'SUCCEEDED' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobsRejectedError);
    expect((err as JobsRejectedError).code).toBe('ResourceNotFound');
    svc.dropReply = () => true;
    await expect(client.getPending()).rejects.toThrow(JobsTimeoutError);
    await expect(client.getPending()).rejects.toThrow(`on ${t.getPending} within 100 ms`);
    client.close();
  });

  it('a reply to a request whose topic it was not subscribed to never arrives (AWS drops it): subscribe first', async () => {
    const svc = new FakeJobsService('cam-1');
    svc.createJob('j', { operation: 'x' });
    const client = new JobsClient(svc.link, 'cam-1', 100);
    await client.subscribe();
    await expect(client.describe('j')).rejects.toThrow(JobsTimeoutError);
    await client.watch('j');
    expect((await client.describe('j'))?.jobDocument).toEqual({ operation: 'x' });
    client.close();
  });

  it('ignores a message larger than AWS IoT allows (a forged multi-MB job document) unparsed, naming why', async () => {
    const svc = new FakeJobsService('cam-1');
    const client = new JobsClient(svc.link, 'cam-1', 100);
    await client.subscribe();
    const nexts: unknown[] = [];
    const ignored: string[] = [];
    client.on('notify-next', (e) => nexts.push(e));
    client.on('ignored', (_topic, why) => ignored.push(why));
    const execution = { jobId: 'big', thingName: 'cam-1', status: 'QUEUED', versionNumber: 1, executionNumber: 1, queuedAt: 1, lastUpdatedAt: 1, jobDocument: { operation: 'x', pad: 'p'.repeat(5 * 1024 * 1024) } };
    svc.deliver(t.notifyNext, { timestamp: 1, execution });
    expect(nexts).toHaveLength(0);
    expect(ignored[0]).toMatch(/^\d+ bytes, more than AWS IoT's 131072-byte message limit$/);
    svc.deliver(t.notifyNext, { timestamp: 2, execution: { ...execution, jobDocument: { operation: 'x' } } });
    expect(nexts).toHaveLength(1); // a normal one still counts
    client.close();
  });

  it('after close a request fails at once instead of waiting out its timeout (its reply could never arrive)', async () => {
    const svc = new FakeJobsService('cam-1');
    const client = new JobsClient(svc.link, 'cam-1', 10_000);
    await client.subscribe();
    client.close();
    const started = Date.now();
    await expect(client.startNext({})).rejects.toThrow('jobs client closed');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(svc.requests).toHaveLength(0);
  });
});
