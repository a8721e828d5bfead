import { describe, expect, it } from 'vitest';
import { routeJobs } from './control-routes.js';
import { JobStore } from './store.js';

const create = (body: unknown) => routeJobs(new JobStore(), 'POST', ['jobs'], () => Promise.resolve(body));
const valid = { jobId: 'j-1', things: ['camera-1'], document: { operation: 'cloudcam.restart' } };

describe('control API /jobs input checks', () => {
  it('creates a job from a well-formed body', async () => {
    expect(await create(valid)).toEqual({ status: 201, body: { jobId: 'j-1' } });
  });

  it.each([
    ['presignedUrlConfig', null],
    ['presignedUrlConfig', 'https://x'],
    ['presignedUrlConfig', { roleArn: 5 }],
    ['rollout', null],
    ['rollout', [10]],
    ['abort', null],
    ['abort', 'ALL'],
  ])('a malformed %s (%j) is a 400 naming it, never a TypeError', async (field, value) => {
    const answer = await create({ ...valid, [field]: value });
    expect(answer?.status).toBe(400);
    expect((answer?.body as { message: string }).message).toContain(field);
  });

  it.each([
    ['jobId', { ...valid, jobId: 7 }],
    ['things', { ...valid, things: 'camera-1' }],
    ['target', { ...valid, things: [{}] }],
    ['document', { ...valid, document: 'x'.repeat(40_000) }],
    ['expiresInSec', { ...valid, presignedUrlConfig: { expiresInSec: '60' } }],
    ['maximumPerMinute', { ...valid, rollout: { maximumPerMinute: 0 } }],
    ['thresholdPercentage', { ...valid, abort: { failedPercent: 'x', minNumberOfExecutedThings: 1 } }],
    ['inProgressTimeoutInMinutes', { ...valid, timeoutInMinutes: 1e9 }],
  ])('refuses a bad %s with 400', async (what, body) => {
    const answer = await create(body);
    expect(answer?.status).toBe(400);
    expect((answer?.body as { message: string }).message).toContain(what);
  });
});
