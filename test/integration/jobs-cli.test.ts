/**
 * `cloudcam jobs create|describe|cancel` as processes against devcloud as a process (the built CLI,
 * dist/cli.js), with a plain mqtt.js device doing the work in between.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevcloudInfo } from '../../src/devcloud/info.js';
import { cliResult, runCli, type Cli } from '../helpers/process.js';
import { JobsDevice } from '../helpers/jobs-device.js';

describe('cloudcam jobs (devcloud as a process)', () => {
  let dir: string;
  let dc: Cli;
  let info: DevcloudInfo;
  let docFile: string;
  const devices: JobsDevice[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-jobs-cli-'));
    dc = runCli(['devcloud', '--state-dir', dir, '--cameras', '2', '--broker', 'aedes', '--jobs-minute-ms', '300', '--log-level', 'warn']);
    await dc.waitForOutput(/devcloud ready in \d+ ms/, 60_000);
    expect(dc.stdout()).toMatch(/release bucket +http:\/\/127\.0\.0\.1:\d+\/cloudcam-releases/);
    info = JSON.parse(await readFile(path.join(dir, 'devcloud.json'), 'utf8')) as DevcloudInfo;
    docFile = path.join(dir, 'restart.json');
    await writeFile(docFile, JSON.stringify({ operation: 'cloudcam.restart' }));
  });
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.end()));
    dc.child.kill('SIGTERM');
    await dc.exited;
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses bad input with exit code 2 and says what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['jobs', 'create', '--document', docFile], /--thing THING is required/],
      [['jobs', 'create', '--thing', 'camera-1'], /--document FILE\.json is required/],
      [['jobs', 'create', '--thing', 'camera 1', '--document', docFile], /"camera 1" is not a valid thing name/],
      [['jobs', 'create', '--thing', 'camera-1', '--document', path.join(dir, 'missing.json')], /cannot read --document .*missing\.json: ENOENT/],
      [['jobs', 'create', '--thing', 'camera-1', '--document', path.join(dir, 'devcloud.json'), '--job-id', 'a b'], /job id "a b" is invalid/],
      [['jobs', 'create', '--thing', 'camera-1', '--document', docFile, '--abort-failed-percent', '150'], /--abort-failed-percent must be a number above 0 and at most 100/],
      [['jobs', 'create', '--thing', 'camera-1', '--document', docFile, '--abort-min-executed', '3'], /--abort-min-executed needs --abort-failed-percent/],
      [['jobs', 'create', '--thing', 'camera-1', '--document', docFile, '--rollout-per-minute', 'fast'], /--rollout-per-minute must be a whole number/],
      [['jobs', 'describe'], /give the job id/],
    ];
    const notJson = path.join(dir, 'not.json');
    await writeFile(notJson, '{"operation": ');
    cases.push([['jobs', 'create', '--thing', 'camera-1', '--document', notJson], /--document .*not\.json is not valid JSON/]);
    for (const [args, message] of cases) {
      const r = await cliResult(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('creates a job, shows each thing’s execution with its details, and cancels the rest', async () => {
    const created = await cliResult(['jobs', 'create', '--thing', 'camera-1', '--thing', 'camera-2', '--document', docFile, '--job-id', 'cli-restart', '--devcloud', dir]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toContain(`created job cli-restart for 2 things; follow it with: cloudcam jobs describe cli-restart --devcloud ${dir}`);

    const device = await JobsDevice.connect(info, 'camera-1', 4);
    devices.push(device);
    const started = await device.request('start-next');
    expect(started.body.execution).toMatchObject({ jobId: 'cli-restart', jobDocument: { operation: 'cloudcam.restart' } });
    await device.request('cli-restart/update', { status: 'FAILED', statusDetails: { reason: 'camera busy', step: 'restart' } });

    const described = await cliResult(['jobs', 'describe', 'cli-restart', '--devcloud', dir]);
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/^job cli-restart: IN_PROGRESS, 2 executions\n/);
    expect(described.stdout).toMatch(/ {2}camera-1 +FAILED +v3 +reason="camera busy" step="restart"\n/);
    expect(described.stdout).toMatch(/ {2}camera-2 +QUEUED +v1\n/);
    const json = await cliResult(['jobs', 'describe', 'cli-restart', '--json', '--devcloud', dir]);
    expect(JSON.parse(json.stdout)).toEqual({
      jobId: 'cli-restart',
      status: 'IN_PROGRESS',
      executions: [
        { thingName: 'camera-1', status: 'FAILED', statusDetails: { reason: 'camera busy', step: 'restart' }, versionNumber: 3 },
        { thingName: 'camera-2', status: 'QUEUED', versionNumber: 1 },
      ],
    });

    const canceled = await cliResult(['jobs', 'cancel', 'cli-restart', '--devcloud', dir]);
    expect(canceled).toMatchObject({ code: 0, stdout: 'canceled job cli-restart\n' });
    const after = await cliResult(['jobs', 'describe', 'cli-restart', '--devcloud', dir]);
    expect(after.stdout).toMatch(/^job cli-restart: CANCELED/);
    expect(after.stdout).toMatch(/camera-2 +CANCELED +v2/);
  });

  it('reports what devcloud refuses with exit code 1: a duplicate id, an unknown thing, an unknown job', async () => {
    await cliResult(['jobs', 'create', '--thing', 'camera-2', '--document', docFile, '--job-id', 'cli-dup', '--devcloud', dir]);
    const dup = await cliResult(['jobs', 'create', '--thing', 'camera-2', '--document', docFile, '--job-id', 'cli-dup', '--devcloud', dir]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/\(409\): a job with id cli-dup already exists/);
    const unknownThing = await cliResult(['jobs', 'create', '--thing', 'camera-9', '--document', docFile, '--devcloud', dir]);
    expect(unknownThing.code).toBe(1);
    expect(unknownThing.stderr).toMatch(/\(404\): target thing camera-9 does not exist/);
    const unknownJob = await cliResult(['jobs', 'describe', 'no-such-job', '--devcloud', dir]);
    expect(unknownJob.code).toBe(1);
    expect(unknownJob.stderr).toMatch(/\(404\): no job with id no-such-job/);
    const noDevcloud = await cliResult(['jobs', 'describe', 'x', '--devcloud', path.join(dir, 'nowhere')]);
    expect(noDevcloud.code).toBe(1);
    expect(noDevcloud.stderr).toMatch(/no devcloud is running with state dir/);
  });
});
