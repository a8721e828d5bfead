import { describe, expect, it } from 'vitest';
import type { JobExecution, StatusDetails } from '../../../protocol/jobs.js';
import type { JobRun } from './operation.js';
import { createRestartOperation } from './restart-operation.js';

function job(statusDetails: StatusDetails, progress: (d: StatusDetails) => void = () => undefined): JobRun {
  const execution: JobExecution = { jobId: 'r1', thingName: 'cam-1', status: 'IN_PROGRESS', statusDetails, queuedAt: 1, lastUpdatedAt: 1, versionNumber: 2, executionNumber: 1 };
  return { jobId: 'r1', document: { operation: 'cloudcam.restart' }, statusDetails, execution, signal: new AbortController().signal, progress: async (d) => progress(d) };
}

describe('cloudcam.restart', () => {
  it('records the stage before it asks for the restart, then hands over', async () => {
    const order: string[] = [];
    const op = createRestartOperation({ requestRestart: (why) => order.push(`restart: ${why}`) });
    const outcome = await op.run(job({}, (d) => order.push(`progress: ${d['stage']}`)));
    expect(order).toEqual(['progress: restarting', 'restart: job r1 (cloudcam.restart)']);
    expect(outcome.status).toBe('HANDED_OVER');
    expect(outcome.details['stage']).toBe('restarting');
  });

  it('the next process confirms the restart; the same process never does', async () => {
    const before = createRestartOperation({ requestRestart: () => undefined });
    const handed = await before.run(job({}));
    const after = createRestartOperation({ requestRestart: () => undefined });
    expect(await after.resume!(job(handed.details))).toEqual({ status: 'SUCCEEDED', details: { stage: 'restarted' } });
    expect((await before.resume!(job(handed.details))).status).toBe('FAILED');
  });

  it('an execution interrupted before the stage was recorded ends FAILED, saying so', async () => {
    const op = createRestartOperation({ requestRestart: () => undefined });
    const outcome = await op.resume!(job({}));
    expect(outcome.status).toBe('FAILED');
    expect(outcome.details['reason']).toContain('interrupted');
  });
});
