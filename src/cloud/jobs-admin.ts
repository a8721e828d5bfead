/**
 * The operator side of AWS IoT Jobs: create a job for some things, see each thing's execution, cancel.
 * Two implementations with one interface: devcloud's (its control API, docs/devcloud.md) and AWS's
 * (@aws-sdk/client-iot with the standard credential chain). docs/protocol-jobs.md describes both.
 */
import type { JobExecutionStatus, StatusDetails } from '../protocol/jobs.js';
import { findPlaceholders } from '../protocol/presigned-url-placeholder.js';
import type { IotSender } from './iot-registry.js';
import { mapLimit } from '../lib/map-limit.js';

export { presignedUrlPlaceholder } from '../protocol/presigned-url-placeholder.js';

/** Control-plane calls per thing (DescribeThing, DescribeJobExecution) in flight at once: a fleet is not a burst. */
export const PER_THING_CONCURRENCY = 8;

export interface CreateJobInput {
  jobId: string;
  things: string[];
  /** The job document (a JSON object); `${aws:iot:s3-presigned-url:...}` placeholders are replaced at delivery. */
  document: unknown;
  /** Needed when the document has placeholders; default then: expiresInSec 3600 and (AWS) the admin's presignRoleArn. */
  presignedUrlConfig?: { roleArn?: string; expiresInSec: number };
  /** Executions released to things at most this many per minute. */
  rollout?: { maximumPerMinute: number };
  /** Cancel the job once `failedPercent` of at least `minNumberOfExecutedThings` finished executions failed (FAILED, REJECTED or TIMED_OUT). */
  abort?: { failedPercent: number; minNumberOfExecutedThings: number };
  /** In-progress timeout: an execution IN_PROGRESS longer than this ends TIMED_OUT. */
  timeoutInMinutes?: number;
}

export interface JobExecutionView {
  thingName: string;
  status: JobExecutionStatus;
  statusDetails?: StatusDetails;
  versionNumber: number;
}

export interface JobDescription {
  /** IN_PROGRESS, CANCELED, COMPLETED (AWS also SCHEDULED, DELETION_IN_PROGRESS). */
  status: string;
  /** Executions created so far (a rollout creates them as it goes). */
  executions: JobExecutionView[];
}

export interface JobsAdmin {
  createJob(i: CreateJobInput): Promise<void>;
  describeJob(jobId: string): Promise<JobDescription>;
  cancelJob?(jobId: string): Promise<void>;
}

/** Fills presignedUrlConfig when the document has placeholders and none was given. */
function withPresignDefaults(i: CreateJobInput, roleArn: string | undefined): CreateJobInput {
  if (i.presignedUrlConfig !== undefined) return i;
  if (findPlaceholders(JSON.stringify(i.document)).length === 0) return i;
  return { ...i, presignedUrlConfig: { ...(roleArn !== undefined ? { roleArn } : {}), expiresInSec: 3600 } };
}

/** devcloud: the running devcloud's control API (loopback only), found through DIR/devcloud.json. */
export async function devcloudJobsAdmin(devcloudDir: string): Promise<JobsAdmin> {
  const { readDevcloudInfo } = await import('../devcloud/info.js');
  const base = (await readDevcloudInfo(devcloudDir)).control.url;
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${base}${path}`, {
      method,
      // Always JSON, also without a body: the control API refuses other types (CSRF, docs/security.md).
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      // Not devcloud's control API (a stale devcloud.json whose port something else took now).
      throw new Error(`${base} answered ${method} ${path} with HTTP ${res.status} and no JSON (${JSON.stringify(text.slice(0, 80))}): is devcloud running with this state dir? Start it again with \`cloudcam devcloud --state-dir ${devcloudDir}\``);
    }
    if (!res.ok) {
      const message = (parsed as { message?: string } | undefined)?.message ?? text;
      throw new Error(`devcloud refused ${method} ${path} (${res.status}): ${message}`);
    }
    return parsed;
  };
  return {
    async createJob(i) {
      await call('POST', '/jobs', withPresignDefaults(i, undefined));
    },
    async describeJob(jobId) {
      const d = (await call('GET', `/jobs/${encodeURIComponent(jobId)}`)) as JobDescription;
      return {
        status: d.status,
        executions: d.executions.map((e) => ({ thingName: e.thingName, status: e.status, ...(e.statusDetails ? { statusDetails: e.statusDetails } : {}), versionNumber: e.versionNumber })),
      };
    },
    async cancelJob(jobId) {
      await call('POST', `/jobs/${encodeURIComponent(jobId)}/cancel`);
    },
  };
}

/**
 * AWS: CreateJob / DescribeJob / ListJobExecutionsForJob / DescribeJobExecution / CancelJob with the
 * standard credential chain. presignRoleArn: the stack output JobsPresignRoleArn (or
 * CLOUDCAM_JOBS_PRESIGN_ROLE_ARN), used for documents with presigned-URL placeholders. `client`: an
 * IoTClient to use instead of a new one (tests pass a recording fake).
 */
export function awsJobsAdmin(opts: { region?: string; presignRoleArn?: string; client?: IotSender }): JobsAdmin {
  const presignRoleArn = opts.presignRoleArn ?? process.env.CLOUDCAM_JOBS_PRESIGN_ROLE_ARN;
  const sdk = import('@aws-sdk/client-iot');
  const clientPromise: Promise<IotSender> = opts.client
    ? Promise.resolve(opts.client)
    : sdk.then(({ IoTClient }) => new IoTClient(opts.region !== undefined ? { region: opts.region } : {}));
  return {
    async createJob(input) {
      const i = withPresignDefaults(input, presignRoleArn);
      const { CreateJobCommand, DescribeThingCommand } = await sdk;
      const iot = await clientPromise;
      if (i.presignedUrlConfig && i.presignedUrlConfig.roleArn === undefined) {
        throw new Error('the job document has presigned-URL placeholders: give the presign role (stack output JobsPresignRoleArn) in CLOUDCAM_JOBS_PRESIGN_ROLE_ARN');
      }
      // CreateJob wants thing ARNs; DescribeThing also says clearly which thing does not exist.
      const targets = await mapLimit(i.things, PER_THING_CONCURRENCY, async (thingName) => {
        const thing = await iot.send(new DescribeThingCommand({ thingName })).catch((err: unknown) => {
          throw new Error(`thing ${thingName}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        });
        if (!thing.thingArn) throw new Error(`thing ${thingName} has no ARN in DescribeThing's answer`);
        return thing.thingArn;
      });
      await iot.send(
        new CreateJobCommand({
          jobId: i.jobId,
          targets,
          targetSelection: 'SNAPSHOT',
          document: JSON.stringify(i.document),
          ...(i.presignedUrlConfig ? { presignedUrlConfig: { roleArn: i.presignedUrlConfig.roleArn, expiresInSec: i.presignedUrlConfig.expiresInSec } } : {}),
          ...(i.rollout ? { jobExecutionsRolloutConfig: { maximumPerMinute: i.rollout.maximumPerMinute } } : {}),
          ...(i.abort
            ? {
                abortConfig: {
                  criteriaList: [{ failureType: 'ALL', action: 'CANCEL', thresholdPercentage: i.abort.failedPercent, minNumberOfExecutedThings: i.abort.minNumberOfExecutedThings }],
                },
              }
            : {}),
          ...(i.timeoutInMinutes !== undefined ? { timeoutConfig: { inProgressTimeoutInMinutes: i.timeoutInMinutes } } : {}),
        }),
      );
    },
    async describeJob(jobId) {
      const { DescribeJobCommand, ListJobExecutionsForJobCommand, DescribeJobExecutionCommand } = await sdk;
      const iot = await clientPromise;
      const job = await iot.send(new DescribeJobCommand({ jobId }));
      const things: string[] = [];
      let nextToken: string | undefined;
      do {
        const page = await iot.send(new ListJobExecutionsForJobCommand({ jobId, maxResults: 250, ...(nextToken ? { nextToken } : {}) }));
        for (const s of page.executionSummaries ?? []) {
          const name = s.thingArn?.split(':thing/')[1];
          if (name) things.push(name);
        }
        nextToken = page.nextToken;
      } while (nextToken);
      const executions = await mapLimit(things, PER_THING_CONCURRENCY, async (thingName): Promise<JobExecutionView> => {
        const { execution } = await iot.send(new DescribeJobExecutionCommand({ jobId, thingName }));
        const details = execution?.statusDetails?.detailsMap;
        return {
          thingName,
          status: (execution?.status ?? 'QUEUED'),
          ...(details && Object.keys(details).length > 0 ? { statusDetails: details } : {}),
          versionNumber: execution?.versionNumber ?? 0,
        };
      });
      return { status: job.job?.status ?? 'UNKNOWN', executions };
    },
    async cancelJob(jobId) {
      const { CancelJobCommand } = await sdk;
      await (await clientPromise).send(new CancelJobCommand({ jobId }));
    },
  };
}
