/**
 * awsJobsAdmin against the AWS IoT control plane's call shapes (a recording fake: AWS itself cannot run
 * here). The same CreateJobInput runs for real against devcloud in test/integration/jobs-service.test.ts.
 */
import { ResourceNotFoundException } from '@aws-sdk/client-iot';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { devcloudInfoPath } from '../devcloud/info.js';
import { awsJobsAdmin, devcloudJobsAdmin, PER_THING_CONCURRENCY, presignedUrlPlaceholder } from './jobs-admin.js';

const ARN = 'arn:aws:iot:eu-north-1:123456789012';
type Call = { command: string; input: Record<string, unknown> };

function fakeIot(things: string[]) {
  const calls: Call[] = [];
  const send = (cmd: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown> => {
    const command = cmd.constructor.name.replace(/Command$/, '');
    calls.push({ command, input: cmd.input });
    switch (command) {
      case 'DescribeThing': {
        const name = cmd.input['thingName'] as string;
        if (!things.includes(name)) return Promise.reject(new ResourceNotFoundException({ message: `Thing ${name} cannot be found.`, $metadata: {} }));
        return Promise.resolve({ thingName: name, thingArn: `${ARN}:thing/${name}` });
      }
      case 'DescribeJob':
        return Promise.resolve({ job: { jobId: cmd.input['jobId'], status: 'IN_PROGRESS' } });
      case 'ListJobExecutionsForJob':
        return Promise.resolve(
          cmd.input['nextToken'] === undefined
            ? { executionSummaries: [{ thingArn: `${ARN}:thing/${things[0]!}` }], nextToken: 'page-2' }
            : { executionSummaries: [{ thingArn: `${ARN}:thing/${things[1]!}` }] },
        );
      case 'DescribeJobExecution':
        return Promise.resolve(
          cmd.input['thingName'] === things[0]
            ? { execution: { status: 'SUCCEEDED', statusDetails: { detailsMap: { version: '1.4.0' } }, versionNumber: 4 } }
            : { execution: { status: 'QUEUED', statusDetails: { detailsMap: {} }, versionNumber: 1 } },
        );
      default:
        return Promise.resolve({});
    }
  };
  return { calls, client: { send } as unknown as Parameters<typeof awsJobsAdmin>[0]['client'] };
}

describe('awsJobsAdmin', () => {
  it('CreateJob gets thing ARNs, SNAPSHOT, the rollout, one ALL/CANCEL abort criterion, the in-progress timeout and the presign role', async () => {
    const iot = fakeIot(['cloudcam-A', 'cloudcam-B']);
    const admin = awsJobsAdmin({ client: iot.client, presignRoleArn: 'arn:aws:iam::123456789012:role/Presign' });
    const url = presignedUrlPlaceholder('releases', 'pkg/cloudcam-1.4.0.eap');
    await admin.createJob({
      jobId: 'update-1',
      things: ['cloudcam-A', 'cloudcam-B'],
      document: { operation: 'cloudcam.update', package: { url } },
      rollout: { maximumPerMinute: 5 },
      abort: { failedPercent: 20, minNumberOfExecutedThings: 3 },
      timeoutInMinutes: 30,
    });
    const create = iot.calls.find((c) => c.command === 'CreateJob')!;
    expect(create.input).toEqual({
      jobId: 'update-1',
      targets: [`${ARN}:thing/cloudcam-A`, `${ARN}:thing/cloudcam-B`],
      targetSelection: 'SNAPSHOT',
      document: JSON.stringify({ operation: 'cloudcam.update', package: { url } }),
      presignedUrlConfig: { roleArn: 'arn:aws:iam::123456789012:role/Presign', expiresInSec: 3600 },
      jobExecutionsRolloutConfig: { maximumPerMinute: 5 },
      abortConfig: { criteriaList: [{ failureType: 'ALL', action: 'CANCEL', thresholdPercentage: 20, minNumberOfExecutedThings: 3 }] },
      timeoutConfig: { inProgressTimeoutInMinutes: 30 },
    });
  });

  it('names an unknown thing, and refuses placeholders without a presign role before calling CreateJob', async () => {
    const iot = fakeIot(['cloudcam-A']);
    const admin = awsJobsAdmin({ client: iot.client });
    await expect(admin.createJob({ jobId: 'j', things: ['cloudcam-Z'], document: {} })).rejects.toThrow(/thing cloudcam-Z: Thing cloudcam-Z cannot be found/);
    const saved = process.env.CLOUDCAM_JOBS_PRESIGN_ROLE_ARN;
    delete process.env.CLOUDCAM_JOBS_PRESIGN_ROLE_ARN;
    try {
      const noRole = awsJobsAdmin({ client: iot.client });
      await expect(noRole.createJob({ jobId: 'j', things: ['cloudcam-A'], document: { url: presignedUrlPlaceholder('r', 'k') } })).rejects.toThrow(/JobsPresignRoleArn/);
    } finally {
      if (saved !== undefined) process.env.CLOUDCAM_JOBS_PRESIGN_ROLE_ARN = saved;
    }
    expect(iot.calls.map((c) => c.command)).not.toContain('CreateJob');
  });

  it('describeJob pages through the executions and reads each one’s details', async () => {
    const iot = fakeIot(['cloudcam-A', 'cloudcam-B']);
    const described = await awsJobsAdmin({ client: iot.client }).describeJob('update-1');
    expect(described).toEqual({
      status: 'IN_PROGRESS',
      executions: [
        { thingName: 'cloudcam-A', status: 'SUCCEEDED', statusDetails: { version: '1.4.0' }, versionNumber: 4 },
        { thingName: 'cloudcam-B', status: 'QUEUED', versionNumber: 1 },
      ],
    });
    expect(iot.calls.filter((c) => c.command === 'ListJobExecutionsForJob').map((c) => c.input['nextToken'])).toEqual([undefined, 'page-2']);
  });

  it('a fleet-sized job is not a burst: at most PER_THING_CONCURRENCY DescribeThing / DescribeJobExecution calls in flight, results in order', async () => {
    const fleet = Array.from({ length: 300 }, (_, i) => `cloudcam-${i}`);
    let inFlight = 0;
    let most = 0;
    const send = async (cmd: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown> => {
      const command = cmd.constructor.name.replace(/Command$/, '');
      if (command === 'DescribeJob') return { job: { status: 'IN_PROGRESS' } };
      if (command === 'ListJobExecutionsForJob') return { executionSummaries: fleet.map((t) => ({ thingArn: `${ARN}:thing/${t}` })) };
      if (command === 'CreateJob') return {};
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight -= 1;
      const thingName = cmd.input['thingName'] as string;
      return command === 'DescribeThing' ? { thingArn: `${ARN}:thing/${thingName}` } : { execution: { status: 'QUEUED', versionNumber: 1 } };
    };
    const admin = awsJobsAdmin({ client: { send } });
    await admin.createJob({ jobId: 'fleet', things: fleet, document: { operation: 'cloudcam.restart' } });
    const described = await admin.describeJob('fleet');
    expect(described.executions.map((e) => e.thingName)).toEqual(fleet);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(PER_THING_CONCURRENCY);
  });

  it('cancelJob is CancelJob without force', async () => {
    const iot = fakeIot([]);
    await awsJobsAdmin({ client: iot.client }).cancelJob!('update-1');
    expect(iot.calls).toEqual([{ command: 'CancelJob', input: { jobId: 'update-1' } }]);
  });
});

describe('devcloudJobsAdmin', () => {
  it('a control URL that something else answers (a stale devcloud.json) is named, not a JSON SyntaxError', async () => {
    const server = http.createServer((_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad gateway</html>'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-jobs-admin-'));
    try {
      await writeFile(devcloudInfoPath(dir), JSON.stringify({ schema: 1, control: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } }));
      const admin = await devcloudJobsAdmin(dir);
      await expect(admin.describeJob('j-1')).rejects.toThrow(/answered GET \/jobs\/j-1 with HTTP 502 and no JSON .*is devcloud running with this state dir/);
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
