/**
 * The device side's reading of what AWS IoT Jobs sends (jobs.ts has the types): each parser checks
 * the shape a reply or notification must have and that an execution in it is this thing's, and
 * returns undefined (with why) for anything else, so a malformed or misdirected message is ignored
 * and named in the log instead of driving the agent.
 */
import { JOB_EXECUTION_STATUSES, JOB_ID_PATTERN, JOBS_ERROR_CODES, type JobExecution, type JobExecutionState, type JobExecutionStatus, type JobExecutionSummary, type JobsErrorCode, type StatusDetails } from './jobs.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isStatus = (v: unknown): v is JobExecutionStatus => typeof v === 'string' && (JOB_EXECUTION_STATUSES as readonly string[]).includes(v);
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

function statusDetailsOf(v: unknown): StatusDetails | undefined {
  if (!isObject(v)) return undefined;
  const out: StatusDetails = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** A JobExecution as delivered; `thing` is the only thing name this agent accepts in it. */
export function parseJobExecution(raw: unknown, thing: string): Parsed<JobExecution> {
  if (!isObject(raw)) return fail('execution is not an object');
  const { jobId, thingName, status, versionNumber, executionNumber, queuedAt, lastUpdatedAt } = raw;
  if (typeof jobId !== 'string' || !JOB_ID_PATTERN.test(jobId)) return fail('execution.jobId is missing or not a job id');
  if (thingName !== thing) return fail(`execution is for thing ${JSON.stringify(String(thingName).slice(0, 128))}, not ${thing}`);
  if (!isStatus(status)) return fail(`execution ${jobId} has no valid status`);
  if (!isCount(versionNumber)) return fail(`execution ${jobId} has no versionNumber`);
  const execution: JobExecution = {
    jobId,
    thingName: thing,
    status,
    versionNumber,
    executionNumber: isCount(executionNumber) ? executionNumber : 0,
    queuedAt: typeof queuedAt === 'number' ? queuedAt : 0,
    lastUpdatedAt: typeof lastUpdatedAt === 'number' ? lastUpdatedAt : 0,
  };
  if ('jobDocument' in raw) execution.jobDocument = raw['jobDocument'];
  const details = statusDetailsOf(raw['statusDetails']);
  if (details) execution.statusDetails = details;
  if (typeof raw['startedAt'] === 'number') execution.startedAt = raw['startedAt'];
  if (typeof raw['approximateSecondsBeforeTimedOut'] === 'number') execution.approximateSecondsBeforeTimedOut = raw['approximateSecondsBeforeTimedOut'];
  return { ok: true, value: execution };
}

export function parseExecutionState(raw: unknown): JobExecutionState | undefined {
  if (!isObject(raw) || !isStatus(raw['status']) || !isCount(raw['versionNumber'])) return undefined;
  const details = statusDetailsOf(raw['statusDetails']);
  return { status: raw['status'], versionNumber: raw['versionNumber'], ...(details ? { statusDetails: details } : {}) };
}

/** start-next/accepted, {jobId}/get/accepted and notify-next: an optional execution. */
export function parseOptionalExecution(raw: Record<string, unknown>, thing: string): Parsed<JobExecution | undefined> {
  if (raw['execution'] === undefined) return { ok: true, value: undefined };
  return parseJobExecution(raw['execution'], thing);
}

function summaries(v: unknown): JobExecutionSummary[] | undefined {
  if (v === undefined) return [];
  if (!Array.isArray(v)) return undefined;
  const out: JobExecutionSummary[] = [];
  for (const s of v) {
    if (!isObject(s) || typeof s['jobId'] !== 'string' || !JOB_ID_PATTERN.test(s['jobId'])) return undefined;
    out.push({
      jobId: s['jobId'],
      queuedAt: typeof s['queuedAt'] === 'number' ? s['queuedAt'] : 0,
      lastUpdatedAt: typeof s['lastUpdatedAt'] === 'number' ? s['lastUpdatedAt'] : 0,
      versionNumber: isCount(s['versionNumber']) ? s['versionNumber'] : 0,
      executionNumber: isCount(s['executionNumber']) ? s['executionNumber'] : 0,
      ...(typeof s['startedAt'] === 'number' ? { startedAt: s['startedAt'] } : {}),
    });
  }
  return out;
}

/** get/accepted: the in-progress and queued executions, by summary. */
export function parsePendingJobs(raw: Record<string, unknown>): Parsed<{ inProgressJobs: JobExecutionSummary[]; queuedJobs: JobExecutionSummary[] }> {
  const inProgressJobs = summaries(raw['inProgressJobs']);
  const queuedJobs = summaries(raw['queuedJobs']);
  if (!inProgressJobs || !queuedJobs) return fail('inProgressJobs/queuedJobs must be lists of job summaries');
  return { ok: true, value: { inProgressJobs, queuedJobs } };
}

export interface RejectedReply {
  code: JobsErrorCode | 'Unknown';
  message: string;
  executionState?: JobExecutionState;
}

export function parseRejected(raw: Record<string, unknown>): RejectedReply {
  const code = typeof raw['code'] === 'string' && (JOBS_ERROR_CODES as readonly string[]).includes(raw['code']) ? (raw['code'] as JobsErrorCode) : 'Unknown';
  const state = parseExecutionState(raw['executionState']);
  return { code, message: typeof raw['message'] === 'string' ? raw['message'].slice(0, 300) : 'rejected', ...(state ? { executionState: state } : {}) };
}
