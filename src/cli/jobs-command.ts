import { parseCommandArgs, positiveInt, UsageError, type Command } from './command.js';
import type { JobExecutionView, JobsAdmin } from '../cloud/jobs-admin.js';
import { terminalSafe } from '../lib/terminal-text.js';

const TARGET_HELP = `Without --devcloud it talks to AWS IoT with the standard AWS credential chain and AWS_REGION.`;

/** The admin for --devcloud DIR, or AWS's. */
async function jobsAdmin(devcloud: string | undefined, region: string | undefined): Promise<JobsAdmin> {
  const { devcloudJobsAdmin, awsJobsAdmin } = await import('../cloud/jobs-admin.js');
  return devcloud !== undefined ? devcloudJobsAdmin(devcloud) : awsJobsAdmin(region !== undefined ? { region } : {});
}

async function requireJobId(value: string | undefined): Promise<string> {
  if (value === undefined) throw new UsageError('give the job id: cloudcam jobs describe JOB');
  const { JOB_ID_PATTERN } = await import('../protocol/jobs.js');
  if (!JOB_ID_PATTERN.test(value)) throw new UsageError(`job id "${value}" is invalid: use 1-64 letters, digits, '_' or '-'`);
  return value;
}

async function readDocument(file: string | undefined): Promise<unknown> {
  if (file === undefined) throw new UsageError('--document FILE.json is required (the job document)');
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --document ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--document ${file} is not valid JSON (${(err as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new UsageError(`--document ${file} must hold a JSON object`);
  return doc;
}

/** AWS's abort thresholdPercentage: above 0, at most 100, two decimals at most. */
export function abortPercent(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 100 || Math.round(n * 100) !== n * 100) {
    throw new UsageError(`--abort-failed-percent must be a number above 0 and at most 100 with at most two decimals, got "${value}"`);
  }
  return n;
}

export const jobsCreateCommand: Command = {
  path: ['jobs', 'create'],
  summary: 'create an AWS IoT job (any job document) for some things',
  help: `Usage: cloudcam jobs create --thing T [--thing T2 ...] --document FILE.json [--job-id ID] [--rollout-per-minute N]
                            [--abort-failed-percent P [--abort-min-executed N]] [--timeout-minutes N]
                            [--presign-expires-sec N] [--devcloud DIR] [--region REGION]

Creates a job whose document is FILE.json for the given things. Each thing's agent receives it over
the Jobs MQTT API. A document may point at objects of the release bucket with
\${aws:iot:s3-presigned-url:https://s3.amazonaws.com/BUCKET/KEY}: the Jobs service replaces each with a
presigned GET when it delivers the document. ${TARGET_HELP} In AWS, placeholders need the role of
the stack output JobsPresignRoleArn in CLOUDCAM_JOBS_PRESIGN_ROLE_ARN.

Options:
  --thing T                 a target thing (repeat for more)
  --document FILE.json      the job document (a JSON object, at most 32 KB)
  --job-id ID               1-64 of letters, digits, '_' and '-' (default: job-{time})
  --rollout-per-minute N    release the job to at most N things per minute (1-1000)
  --abort-failed-percent P  cancel the job when P % of the finished executions failed, rejected or timed out
  --abort-min-executed N    ... once at least N executions finished (default 1)
  --timeout-minutes N       an execution IN_PROGRESS longer than N minutes ends TIMED_OUT (1-10080)
  --presign-expires-sec N   life of the presigned URLs (60-3600, default 3600)
  --devcloud DIR            the state dir of a running devcloud
  --region REGION           AWS region (default: AWS_REGION)

Example:
  cloudcam jobs create --thing camera-1 --thing camera-2 --document restart.json --devcloud /tmp/dc
`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      thing: { type: 'string', multiple: true },
      document: { type: 'string' },
      'job-id': { type: 'string' },
      'rollout-per-minute': { type: 'string' },
      'abort-failed-percent': { type: 'string' },
      'abort-min-executed': { type: 'string' },
      'timeout-minutes': { type: 'string' },
      'presign-expires-sec': { type: 'string' },
      devcloud: { type: 'string' },
      region: { type: 'string' },
    });
    const { requireThing } = await import('./cloud-target.js');
    const things = values.thing ?? [];
    if (things.length === 0) throw new UsageError('--thing THING is required (repeat it for more things)');
    for (const t of things) await requireThing(t);
    const document = await readDocument(values.document);
    const jobId = await requireJobId(values['job-id'] ?? `job-${new Date().toISOString().replace(/[^0-9]/g, '').slice(0, 14)}`);
    if (values['abort-min-executed'] !== undefined && values['abort-failed-percent'] === undefined) {
      throw new UsageError('--abort-min-executed needs --abort-failed-percent');
    }
    const admin = await jobsAdmin(values.devcloud, values.region);
    await admin.createJob({
      jobId,
      things,
      document,
      ...(values['rollout-per-minute'] !== undefined ? { rollout: { maximumPerMinute: positiveInt('rollout-per-minute', values['rollout-per-minute'], 1) } } : {}),
      ...(values['abort-failed-percent'] !== undefined
        ? { abort: { failedPercent: abortPercent(values['abort-failed-percent']), minNumberOfExecutedThings: positiveInt('abort-min-executed', values['abort-min-executed'], 1) } }
        : {}),
      ...(values['timeout-minutes'] !== undefined ? { timeoutInMinutes: positiveInt('timeout-minutes', values['timeout-minutes'], 1) } : {}),
      ...(values['presign-expires-sec'] !== undefined ? { presignedUrlConfig: { expiresInSec: positiveInt('presign-expires-sec', values['presign-expires-sec'], 3600) } } : {}),
    });
    const target = values.devcloud !== undefined ? ` --devcloud ${values.devcloud}` : '';
    process.stdout.write(`created job ${jobId} for ${things.length} thing${things.length === 1 ? '' : 's'}; follow it with: cloudcam jobs describe ${jobId}${target}\n`);
    return 0;
  },
};

export const jobsDescribeCommand: Command = {
  path: ['jobs', 'describe'],
  summary: "show a job's status and each thing's execution with its details",
  help: `Usage: cloudcam jobs describe JOB [--json] [--devcloud DIR] [--region REGION]

Prints the job's status, then one line per thing that has an execution: its status, version and the
status details the device reported (key=value). A rollout creates executions as it goes, so things
not yet reached are not listed. ${TARGET_HELP}

Options:
  --json            print {"jobId", "status", "executions": [...]} instead
  --devcloud DIR    the state dir of a running devcloud
  --region REGION   AWS region (default: AWS_REGION)
`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { devcloud: { type: 'string' }, region: { type: 'string' }, json: { type: 'boolean' } }, true);
    if (positionals.length > 1) throw new UsageError(`give one job id, got ${positionals.length}`);
    const jobId = await requireJobId(positionals[0]);
    const admin = await jobsAdmin(values.devcloud, values.region);
    const job = await admin.describeJob(jobId);
    if (values.json) {
      process.stdout.write(JSON.stringify({ jobId, ...job }, null, 2) + '\n');
      return 0;
    }
    const width = Math.max(5, ...job.executions.map((e) => e.thingName.length));
    const lines = [
      `job ${jobId}: ${job.status}, ${job.executions.length} execution${job.executions.length === 1 ? '' : 's'}`,
      ...job.executions.map((e) => executionLine(e, width)),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};

/**
 * One execution as `jobs describe` prints it. statusDetails are the device's words (any holder of its
 * identity writes them): JSON-quoted and with the characters JSON leaves alone (C1 controls, bidi
 * overrides) escaped too, so that nothing in them drives the operator's terminal.
 */
export function executionLine(e: JobExecutionView, width: number): string {
  const details = Object.entries(e.statusDetails ?? {})
    .map(([k, v]) => `${terminalSafe(k)}=${terminalSafe(JSON.stringify(v))}`)
    .join(' ');
  return `  ${terminalSafe(e.thingName).padEnd(width)}  ${e.status.padEnd(11)}  v${e.versionNumber}${details ? `  ${details}` : ''}`;
}

export const jobsCancelCommand: Command = {
  path: ['jobs', 'cancel'],
  summary: 'cancel a job: queued executions are canceled, ones in progress may finish',
  help: `Usage: cloudcam jobs cancel JOB [--devcloud DIR] [--region REGION]

Cancels the job (CancelJob without force): executions still QUEUED become CANCELED and the rollout
stops; executions already IN_PROGRESS may still finish. ${TARGET_HELP}

Options:
  --devcloud DIR    the state dir of a running devcloud
  --region REGION   AWS region (default: AWS_REGION)
`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { devcloud: { type: 'string' }, region: { type: 'string' } }, true);
    if (positionals.length > 1) throw new UsageError(`give one job id, got ${positionals.length}`);
    const jobId = await requireJobId(positionals[0]);
    const admin = await jobsAdmin(values.devcloud, values.region);
    await admin.cancelJob!(jobId);
    process.stdout.write(`canceled job ${jobId}\n`);
    return 0;
  },
};
