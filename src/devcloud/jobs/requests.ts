/**
 * The device side of the Jobs MQTT API as the service sees it: which operation a topic names, and the
 * checks on each request's payload (jobs-mqtt-api.html, jobs-api.html), each failure a JobsError with
 * the code AWS documents for it.
 */
import { isThingName } from '../broker/acl.js';
import {
  DEVICE_SETTABLE_STATUSES,
  JOB_ID_PATTERN,
  JOBS_LIMITS,
  statusDetailsProblem,
  type DeviceSettableStatus,
  type StatusDetails,
} from '../../protocol/jobs.js';
import { JobsError } from './errors.js';

export type JobsRequestTopic =
  | { thing: string; operation: 'getPending' | 'startNext' }
  | { thing: string; operation: 'describe' | 'update'; jobId: string }
  /** In the jobs namespace but no API: answered with InvalidTopic on `{topic}/rejected`. */
  | { thing: string; operation: 'invalid' };

/** What the service subscribes to: every thing's jobs namespace. */
export const JOBS_REQUEST_FILTER = '$aws/things/+/jobs/#';

/**
 * The request a topic carries; undefined for topics the service publishes itself (accepted, rejected,
 * notify, notify-next) and for topics outside a valid thing's jobs namespace.
 */
export function parseJobsTopic(topic: string): JobsRequestTopic | undefined {
  const parts = topic.split('/');
  if (parts[0] !== '$aws' || parts[1] !== 'things' || parts[3] !== 'jobs' || parts.length < 5) return undefined;
  const thing = parts[2]!;
  if (!isThingName(thing)) return undefined;
  const last = parts[parts.length - 1]!;
  if (last === 'accepted' || last === 'rejected') return undefined;
  const rest = parts.slice(4);
  if (rest.length === 1) {
    if (rest[0] === 'notify' || rest[0] === 'notify-next') return undefined;
    if (rest[0] === 'get') return { thing, operation: 'getPending' };
    if (rest[0] === 'start-next') return { thing, operation: 'startNext' };
  }
  if (rest.length === 2 && (rest[1] === 'get' || rest[1] === 'update')) {
    const jobId = rest[0]!;
    if (rest[1] === 'get' && jobId === '$next') return { thing, operation: 'describe', jobId };
    if (JOB_ID_PATTERN.test(jobId)) return { thing, operation: rest[1] === 'get' ? 'describe' : 'update', jobId };
  }
  return { thing, operation: 'invalid' };
}

type Json = Record<string, unknown>;

/** The payload as a JSON object; an empty payload counts as `{}`. */
export function parsePayload(payload: Buffer): Json {
  if (payload.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    throw new JobsError('InvalidJson', 'the request could not be interpreted as valid UTF-8-encoded JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new JobsError('InvalidJson', 'the request must be a JSON object');
  return parsed as Json;
}

/** The clientToken if it is a string (echoed even when the rest of the request is refused). */
export function clientTokenOf(body: Json): string | undefined {
  return typeof body.clientToken === 'string' ? body.clientToken : undefined;
}

const invalid = (message: string): JobsError => new JobsError('InvalidRequest', message);

function checkClientToken(body: Json): void {
  if (body.clientToken === undefined) return;
  if (typeof body.clientToken !== 'string' || body.clientToken.length === 0 || body.clientToken.length > JOBS_LIMITS.clientTokenMaxLength) {
    throw invalid(`clientToken must be a string of 1-${JOBS_LIMITS.clientTokenMaxLength} characters`);
  }
}

function optionalBoolean(body: Json, name: string): boolean | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw invalid(`${name} must be true or false`);
  return v;
}

function optionalInteger(body: Json, name: string, min: number): number | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw invalid(`${name} must be a whole number of at least ${min}`);
  return v;
}

function stepTimeout(body: Json, allowCancel: boolean): number | undefined {
  const v = body.stepTimeoutInMinutes;
  if (v === undefined) return undefined;
  const { min, max } = JOBS_LIMITS.stepTimeoutMinutes;
  if (allowCancel && v === -1) return -1;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(`stepTimeoutInMinutes must be a whole number from ${min} to ${max}${allowCancel ? ' (or -1 to cancel the step timer)' : ''}`);
  }
  return v;
}

function statusDetails(body: Json): StatusDetails | undefined {
  const problem = statusDetailsProblem(body.statusDetails);
  if (problem) throw invalid(problem);
  return body.statusDetails as StatusDetails | undefined;
}

export function parseGetPending(body: Json): void {
  checkClientToken(body);
}

export function parseStartNext(body: Json): { statusDetails?: StatusDetails; stepTimeoutInMinutes?: number } {
  checkClientToken(body);
  const details = statusDetails(body);
  const timeout = stepTimeout(body, false);
  return { ...(details ? { statusDetails: details } : {}), ...(timeout !== undefined ? { stepTimeoutInMinutes: timeout } : {}) };
}

export function parseDescribe(body: Json): { executionNumber?: number; includeJobDocument: boolean } {
  checkClientToken(body);
  const executionNumber = optionalInteger(body, 'executionNumber', 1);
  return { ...(executionNumber !== undefined ? { executionNumber } : {}), includeJobDocument: optionalBoolean(body, 'includeJobDocument') ?? true };
}

export interface ParsedUpdate {
  status: DeviceSettableStatus;
  statusDetails?: StatusDetails;
  expectedVersion?: number;
  executionNumber?: number;
  stepTimeoutInMinutes?: number;
  includeJobExecutionState: boolean;
  includeJobDocument: boolean;
}

export function parseUpdate(body: Json): ParsedUpdate {
  checkClientToken(body);
  const status = body.status;
  if (typeof status !== 'string' || !(DEVICE_SETTABLE_STATUSES as readonly string[]).includes(status)) {
    throw invalid(`status must be one of ${DEVICE_SETTABLE_STATUSES.join(', ')}, got ${JSON.stringify(status)}`);
  }
  const details = statusDetails(body);
  const expectedVersion = optionalInteger(body, 'expectedVersion', 0);
  const executionNumber = optionalInteger(body, 'executionNumber', 1);
  const timeout = stepTimeout(body, true);
  return {
    status: status as DeviceSettableStatus,
    ...(details ? { statusDetails: details } : {}),
    ...(expectedVersion !== undefined ? { expectedVersion } : {}),
    ...(executionNumber !== undefined ? { executionNumber } : {}),
    ...(timeout !== undefined ? { stepTimeoutInMinutes: timeout } : {}),
    includeJobExecutionState: optionalBoolean(body, 'includeJobExecutionState') ?? false,
    includeJobDocument: optionalBoolean(body, 'includeJobDocument') ?? false,
  };
}
