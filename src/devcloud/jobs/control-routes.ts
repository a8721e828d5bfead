/**
 * The control API's jobs endpoints (devcloud's stand-in for the IoT control plane's CreateJob,
 * DescribeJob + ListJobExecutionsForJob and CancelJob), used by src/cloud/jobs-admin.ts:
 *   POST /jobs                 body: JobsControlCreate; 201 {jobId}
 *   GET  /jobs/{jobId}         200 JobsControlDescription
 *   POST /jobs/{jobId}/cancel  204
 * Refusals are 400/404/409 with {message}, as the control plane's exceptions.
 */
import { JobsAdminError } from './errors.js';
import type { AbortFailureType } from './model.js';
import type { JobStore } from './store.js';
import type { JobExecutionStatus, StatusDetails } from '../../protocol/jobs.js';

export interface JobsControlCreate {
  jobId: string;
  things: string[];
  document: unknown;
  presignedUrlConfig?: { roleArn?: string; expiresInSec?: number };
  rollout?: { maximumPerMinute: number };
  abort?: { failedPercent: number; minNumberOfExecutedThings: number; failureType?: AbortFailureType };
  timeoutInMinutes?: number;
}

export interface JobsControlDescription {
  jobId: string;
  status: string;
  reasonCode?: string;
  targets: number;
  executions: {
    thingName: string;
    status: JobExecutionStatus;
    statusDetails?: StatusDetails;
    versionNumber: number;
    queuedAt: number;
    startedAt?: number;
    lastUpdatedAt: number;
  }[];
}

export interface ControlReply {
  status: number;
  body?: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An optional part of the body that must be an object when given (null, a string, a list: 400 naming it). */
function checkOptionalObject(body: Record<string, unknown>, name: keyof JobsControlCreate, shape: string): void {
  if (body[name] !== undefined && !isObject(body[name])) throw new JobsAdminError(400, `${name} must be an object ${shape}, got ${JSON.stringify(body[name])?.slice(0, 60)}`);
}

function createJob(store: JobStore, body: unknown): ControlReply {
  if (!isObject(body)) throw new JobsAdminError(400, 'send a JSON object {"jobId", "things", "document", ...}');
  const b = body as Partial<JobsControlCreate>;
  if (!Array.isArray(b.things)) throw new JobsAdminError(400, 'things must be an array of thing names');
  if (b.document === undefined) throw new JobsAdminError(400, 'document is required (the job document, a JSON object)');
  checkOptionalObject(body, 'presignedUrlConfig', '{"roleArn"?, "expiresInSec"?}');
  checkOptionalObject(body, 'rollout', '{"maximumPerMinute"}');
  checkOptionalObject(body, 'abort', '{"failedPercent", "minNumberOfExecutedThings", "failureType"?}');
  if (b.presignedUrlConfig?.roleArn !== undefined && typeof b.presignedUrlConfig.roleArn !== 'string') throw new JobsAdminError(400, 'presignedUrlConfig.roleArn must be a string (an IAM role ARN)');
  const abort = b.abort;
  const job = store.createJob({
    jobId: b.jobId as string,
    targets: b.things,
    document: JSON.stringify(b.document),
    ...(b.presignedUrlConfig !== undefined ? { presignedUrlConfig: { ...b.presignedUrlConfig, expiresInSec: b.presignedUrlConfig.expiresInSec ?? 3600 } } : {}),
    ...(b.rollout !== undefined ? { rollout: b.rollout } : {}),
    ...(abort !== undefined
      ? { abort: { failureType: abort.failureType ?? 'ALL', thresholdPercentage: abort.failedPercent, minNumberOfExecutedThings: abort.minNumberOfExecutedThings } }
      : {}),
    ...(b.timeoutInMinutes !== undefined ? { inProgressTimeoutInMinutes: b.timeoutInMinutes } : {}),
  });
  return { status: 201, body: { jobId: job.jobId } };
}

function describeJob(store: JobStore, jobId: string): ControlReply {
  const job = store.job(jobId);
  if (!job) throw new JobsAdminError(404, `no job with id ${jobId}`);
  const description: JobsControlDescription = {
    jobId,
    status: job.status,
    ...(job.reasonCode !== undefined ? { reasonCode: job.reasonCode } : {}),
    targets: job.targets.length,
    executions: store.executionsOf(jobId).map((e) => ({
      thingName: e.thingName,
      status: e.status,
      ...(e.statusDetails ? { statusDetails: e.statusDetails } : {}),
      versionNumber: e.versionNumber,
      queuedAt: store.seconds(e.queuedAt),
      ...(e.startedAt !== undefined ? { startedAt: store.seconds(e.startedAt) } : {}),
      lastUpdatedAt: store.seconds(e.lastUpdatedAt),
    })),
  };
  return { status: 200, body: description };
}

/** Answers a request under /jobs; undefined when no jobs route matches. */
export async function routeJobs(store: JobStore, method: string, parts: string[], readBody: () => Promise<unknown>): Promise<ControlReply | undefined> {
  try {
    if (method === 'POST' && parts.length === 1) return createJob(store, await readBody());
    if (method === 'GET' && parts.length === 2) return describeJob(store, parts[1]!);
    if (method === 'POST' && parts.length === 3 && parts[2] === 'cancel') {
      store.cancelJob(parts[1]!);
      return { status: 204 };
    }
    return undefined;
  } catch (err) {
    if (err instanceof JobsAdminError) return { status: err.status, body: { message: err.message } };
    throw err;
  }
}
