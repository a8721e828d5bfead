/**
 * The AWS IoT Jobs device MQTT API (docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html
 * and jobs-mqtt-https-api.html): reserved topics under `$aws/things/{thing}/jobs/`, the messages on
 * them and the limits AWS enforces. One source for the agent's jobs client and devcloud's Jobs
 * service, so that both speak the documented contract rather than each other's habits.
 */
import { assertThingName } from './topics.js';

/** AWS job ids: 1-64 of [a-zA-Z0-9_-] (CreateJob, UpdateJobExecution's URI parameter). */
export const JOB_ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

export function assertJobId(jobId: string): void {
  if (!JOB_ID_PATTERN.test(jobId)) throw new Error(`invalid job id "${jobId}": use 1-64 letters, digits, '_' or '-'`);
}

export const JOB_EXECUTION_STATUSES = ['QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'REJECTED', 'REMOVED', 'CANCELED'] as const;
export type JobExecutionStatus = (typeof JOB_EXECUTION_STATUSES)[number];

/** Statuses a device may set through UpdateJobExecution. */
export const DEVICE_SETTABLE_STATUSES = ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED'] as const;
export type DeviceSettableStatus = (typeof DEVICE_SETTABLE_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<JobExecutionStatus> = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'REJECTED', 'REMOVED', 'CANCELED']);

/** Error codes of `.../rejected` replies (jobs-mqtt-https-api.html, "Jobs device MQTT and HTTPS error responses"). */
export const JOBS_ERROR_CODES = [
  'InvalidTopic',
  'InvalidJson',
  'InvalidRequest',
  'InvalidStateTransition',
  'ResourceNotFound',
  'VersionMismatch',
  'InternalError',
  'RequestThrottled',
  'TerminalStateReached',
] as const;
export type JobsErrorCode = (typeof JOBS_ERROR_CODES)[number];

export type StatusDetails = Record<string, string>;

/** The JobExecution data type as the device sees it (jobDocument is the parsed document). */
export interface JobExecution {
  jobId: string;
  thingName: string;
  jobDocument?: unknown;
  status: JobExecutionStatus;
  statusDetails?: StatusDetails;
  queuedAt: number;
  startedAt?: number;
  lastUpdatedAt: number;
  versionNumber: number;
  executionNumber: number;
  approximateSecondsBeforeTimedOut?: number;
}

export interface JobExecutionState {
  status: JobExecutionStatus;
  statusDetails?: StatusDetails;
  versionNumber: number;
}

export interface JobExecutionSummary {
  jobId: string;
  queuedAt: number;
  startedAt?: number;
  lastUpdatedAt: number;
  versionNumber: number;
  executionNumber: number;
}

/** Requests (device → Jobs). Every request may carry a clientToken (max 64 chars) echoed in the reply. */
export interface GetPendingRequest {
  clientToken?: string;
}
export interface StartNextRequest {
  statusDetails?: StatusDetails;
  stepTimeoutInMinutes?: number;
  clientToken?: string;
}
export interface DescribeRequest {
  executionNumber?: number;
  includeJobDocument?: boolean;
  clientToken?: string;
}
export interface UpdateRequest {
  status: DeviceSettableStatus;
  statusDetails?: StatusDetails;
  expectedVersion?: number;
  executionNumber?: number;
  includeJobExecutionState?: boolean;
  includeJobDocument?: boolean;
  stepTimeoutInMinutes?: number;
  clientToken?: string;
}

/** Replies and notifications (Jobs → device). */
export interface GetPendingAccepted {
  inProgressJobs: JobExecutionSummary[];
  queuedJobs: JobExecutionSummary[];
  timestamp: number;
  clientToken?: string;
}
/** start-next/accepted, {jobId}/get/accepted: `execution` absent when there is no pending job. */
export interface ExecutionAccepted {
  execution?: JobExecution;
  timestamp: number;
  clientToken?: string;
}
export interface UpdateAccepted {
  executionState?: JobExecutionState;
  jobDocument?: unknown;
  timestamp: number;
  clientToken?: string;
}
export interface JobsRejected {
  code: JobsErrorCode;
  message: string;
  timestamp: number;
  clientToken?: string;
  executionState?: JobExecutionState;
}
/** notify-next: `execution` absent when the thing has no pending job left. */
export interface NotifyNext {
  timestamp: number;
  execution?: JobExecution;
}
export interface Notify {
  timestamp: number;
  jobs: Partial<Record<'QUEUED' | 'IN_PROGRESS', JobExecutionSummary[]>>;
}

/** Limits AWS documents for the device API (UpdateJobExecution, StartNextPendingJobExecution). */
export const JOBS_LIMITS = {
  /** AWS IoT Core's MQTT message limit (128 KB); a job document is at most 32 KB of it (CreateJob). */
  messageMaxBytes: 128 * 1024,
  clientTokenMaxLength: 64,
  statusDetailsKeyPattern: /^[a-zA-Z0-9:_-]{1,128}$/,
  statusDetailsValueMaxLength: 1024,
  /**
   * Value pattern `[^\p{C}]+` (API_iot-jobs-data_JobExecutionState, API_JobExecutionStatusDetails):
   * no control, format, unassigned, private-use or lone surrogate character, so no line break or tab.
   */
  statusDetailsValueForbidden: /\p{C}/u,
  /** Step timeout: 1 minute to 10080 minutes (7 days). */
  stepTimeoutMinutes: { min: 1, max: 10_080 },
} as const;

export interface JobsTopics {
  readonly notify: string;
  readonly notifyNext: string;
  readonly getPending: string;
  readonly startNext: string;
  describe(jobId: string): string;
  update(jobId: string): string;
}

/** The reserved Jobs topics of one thing; add `/accepted` or `/rejected` with {@link replyTopics}. */
export function jobsTopics(thing: string): JobsTopics {
  assertThingName(thing);
  const base = `$aws/things/${thing}/jobs`;
  return {
    notify: `${base}/notify`,
    notifyNext: `${base}/notify-next`,
    getPending: `${base}/get`,
    startNext: `${base}/start-next`,
    describe: (jobId) => (jobId === '$next' ? `${base}/$next/get` : (assertJobId(jobId), `${base}/${jobId}/get`)),
    update: (jobId) => (assertJobId(jobId), `${base}/${jobId}/update`),
  };
}

export function replyTopics(requestTopic: string): { accepted: string; rejected: string } {
  return { accepted: `${requestTopic}/accepted`, rejected: `${requestTopic}/rejected` };
}

/** What is wrong with a statusDetails map by AWS's rules, or undefined when it is acceptable. */
export function statusDetailsProblem(details: unknown): string | undefined {
  if (details === undefined) return undefined;
  if (typeof details !== 'object' || details === null || Array.isArray(details)) return 'statusDetails must be an object of string values';
  for (const [key, value] of Object.entries(details)) {
    if (!JOBS_LIMITS.statusDetailsKeyPattern.test(key)) return `statusDetails key "${key.slice(0, 40)}" must be 1-128 of [a-zA-Z0-9:_-]`;
    if (typeof value !== 'string' || value.length === 0) return `statusDetails.${key} must be a non-empty string`;
    if (value.length > JOBS_LIMITS.statusDetailsValueMaxLength) return `statusDetails.${key} is longer than ${JOBS_LIMITS.statusDetailsValueMaxLength} characters`;
    if (JOBS_LIMITS.statusDetailsValueForbidden.test(value)) return `statusDetails.${key} contains a control or other non-printable character (AWS's value pattern is [^\\p{C}]+)`;
  }
  return undefined;
}
