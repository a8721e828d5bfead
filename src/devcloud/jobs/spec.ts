/**
 * CreateJob's checks (API_CreateJob and the types it uses), so devcloud refuses the jobs AWS refuses.
 * Each refusal is a JobsAdminError(400/404) naming the parameter and the allowed range.
 */
import { isThingName } from '../broker/acl.js';
import { JOB_ID_PATTERN } from '../../protocol/jobs.js';
import { JobsAdminError } from './errors.js';
import type { AbortFailureType, JobSpec } from './model.js';
import { findPlaceholders } from '../../protocol/presigned-url-placeholder.js';

/** API_CreateJob: document "Maximum length of 32768". */
export const MAX_DOCUMENT_CHARS = 32_768;
/** API_PresignedUrlConfig: expiresInSec 60-3600, default 3600. */
export const PRESIGN_EXPIRES = { min: 60, max: 3600, default: 3600 } as const;
/** API_JobExecutionsRolloutConfig: maximumPerMinute 1-1000. */
export const MAX_PER_MINUTE = 1000;
/** API_TimeoutConfig: inProgressTimeoutInMinutes, and the step timeout (UpdateJobExecution): 1-10080. */
export const TIMEOUT_MINUTES = { min: 1, max: 10_080 } as const;
const FAILURE_TYPES: readonly AbortFailureType[] = ['FAILED', 'REJECTED', 'TIMED_OUT', 'ALL'];

const bad = (message: string): JobsAdminError => new JobsAdminError(400, message);

function wholeIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw bad(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function validateJobSpec(
  input: JobSpec,
  opts: { thingExists?: ((thing: string) => boolean) | undefined; presignableBuckets?: readonly string[] | undefined },
): JobSpec {
  if (typeof input.jobId !== 'string' || !JOB_ID_PATTERN.test(input.jobId)) {
    throw bad(`jobId ${JSON.stringify(input.jobId)} is invalid: use 1-64 letters, digits, '_' or '-'`);
  }
  if (!Array.isArray(input.targets) || input.targets.length === 0) throw bad('targets must name at least one thing');
  const targets = [...new Set(input.targets)];
  for (const thing of targets) {
    if (typeof thing !== 'string' || !isThingName(thing)) throw bad(`target ${JSON.stringify(thing)} is not a valid thing name (1-128 of [a-zA-Z0-9:_-])`);
    if (opts.thingExists && !opts.thingExists(thing)) throw new JobsAdminError(404, `target thing ${thing} does not exist`);
  }
  if (typeof input.document !== 'string' || input.document.length > MAX_DOCUMENT_CHARS) {
    throw bad(`the job document must be JSON text of at most ${MAX_DOCUMENT_CHARS} characters`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(input.document);
  } catch {
    throw bad('the job document is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('the job document must be a JSON object');

  const spec: JobSpec = { jobId: input.jobId, targets, document: input.document };
  let placeholders;
  try {
    placeholders = findPlaceholders(input.document);
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (input.presignedUrlConfig !== undefined) {
    const expires = input.presignedUrlConfig.expiresInSec ?? PRESIGN_EXPIRES.default;
    spec.presignedUrlConfig = {
      ...(input.presignedUrlConfig.roleArn !== undefined ? { roleArn: input.presignedUrlConfig.roleArn } : {}),
      expiresInSec: wholeIn('presignedUrlConfig.expiresInSec', expires, PRESIGN_EXPIRES.min, PRESIGN_EXPIRES.max),
    };
  }
  if (placeholders.length > 0) {
    // Stand-in choice: AWS would deliver the placeholder unreplaced (or a URL its role cannot read);
    // devcloud refuses the job at once, naming the fix.
    if (!spec.presignedUrlConfig) throw bad('the job document has ${aws:iot:s3-presigned-url:...} placeholders but no presignedUrlConfig: give one (expiresInSec 60-3600)');
    const allowed = opts.presignableBuckets ?? [];
    const foreign = placeholders.find((p) => !allowed.includes(p.bucket));
    if (foreign) throw bad(`placeholder ${foreign.text} names bucket ${foreign.bucket}; the presign role may read only ${allowed.join(', ') || 'no bucket'}`);
  }
  if (input.rollout !== undefined) spec.rollout = { maximumPerMinute: wholeIn('rollout.maximumPerMinute', input.rollout.maximumPerMinute, 1, MAX_PER_MINUTE) };
  if (input.abort !== undefined) {
    const { failureType, thresholdPercentage, minNumberOfExecutedThings } = input.abort;
    if (!FAILURE_TYPES.includes(failureType)) throw bad(`abort.failureType must be one of ${FAILURE_TYPES.join(', ')}, got ${JSON.stringify(failureType)}`);
    // "supports up to two digits after the decimal" (API_AbortCriteria).
    if (typeof thresholdPercentage !== 'number' || !(thresholdPercentage > 0) || thresholdPercentage > 100 || Math.round(thresholdPercentage * 100) !== thresholdPercentage * 100) {
      throw bad(`abort.thresholdPercentage must be above 0 and at most 100 with at most two decimals, got ${JSON.stringify(thresholdPercentage)}`);
    }
    spec.abort = { failureType, thresholdPercentage, minNumberOfExecutedThings: wholeIn('abort.minNumberOfExecutedThings', minNumberOfExecutedThings, 1, Number.MAX_SAFE_INTEGER) };
  }
  if (input.inProgressTimeoutInMinutes !== undefined) {
    spec.inProgressTimeoutInMinutes = wholeIn('timeoutConfig.inProgressTimeoutInMinutes', input.inProgressTimeoutInMinutes, TIMEOUT_MINUTES.min, TIMEOUT_MINUTES.max);
  }
  return spec;
}
