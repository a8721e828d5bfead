/**
 * `fleet update --wait` prints what each camera reported. statusDetails are written by the device,
 * so a device with a stolen identity chooses them: they must not reach the terminal as escape codes.
 */
import { describe, expect, it } from 'vitest';
import type { JobDescription, JobsAdmin } from '../cloud/jobs-admin.js';
import { followJob } from './fleet-update.js';

describe('fleet update --wait', () => {
  it("prints a device's statusDetails with control characters and bidi overrides escaped", async () => {
    const hostile = '\u001b]0;owned\u0007\u001b[2J\u001b[1A SUCCEEDED\r\u202eevil';
    const job: JobDescription = {
      status: 'COMPLETED',
      executions: [{ thingName: 'camera-1', status: 'FAILED', versionNumber: 3, statusDetails: { stage: `verifying\u001b[8m`, reason: hostile } }],
    };
    // The Jobs API's answer as the operator's tool gets it (what DescribeJobExecution returns).
    const admin: JobsAdmin = { createJob: () => Promise.resolve(), describeJob: () => Promise.resolve(job) };
    const lines: string[] = [];
    await followJob(admin, 'job-1', ['camera-1'], (l) => lines.push(l), 10);
    const printed = lines.join('\n');
    // eslint-disable-next-line no-control-regex -- what must not be printed
    expect(printed).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(lines[0]).toContain('camera-1  FAILED (verifying\\u001b[8m): \\u001b]0;owned\\u0007\\u001b[2J\\u001b[1A SUCCEEDED\\u000d\\u202eevil');
  });
});
