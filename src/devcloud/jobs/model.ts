/**
 * What devcloud's Jobs service keeps: jobs as CreateJob made them and one execution per (job, thing).
 * Times are milliseconds of the service's clock; messages carry epoch seconds, as AWS's do.
 */
import type { JobExecution } from '../../protocol/jobs.js';

/** Job status (DescribeJob): devcloud has no SCHEDULED or DELETION_IN_PROGRESS. */
export type JobStatus = 'IN_PROGRESS' | 'CANCELED' | 'COMPLETED';

/** AbortCriteria.failureType (API_AbortCriteria). */
export type AbortFailureType = 'FAILED' | 'REJECTED' | 'TIMED_OUT' | 'ALL';

/** CreateJob's parameters that devcloud implements (API_CreateJob). */
export interface JobSpec {
  jobId: string;
  /** Thing names (AWS: thing ARNs in `targets`; targetSelection SNAPSHOT). */
  targets: string[];
  /** The job document as JSON text, placeholders unreplaced (AWS stores it as given). */
  document: string;
  /** presignedUrlConfig; roleArn is accepted and not used (devcloud signs with its own S3 key pair). */
  presignedUrlConfig?: { roleArn?: string; expiresInSec: number };
  /** jobExecutionsRolloutConfig.maximumPerMinute: executions released to things per minute. */
  rollout?: { maximumPerMinute: number };
  /** abortConfig with one criterion, action CANCEL. */
  abort?: { failureType: AbortFailureType; thresholdPercentage: number; minNumberOfExecutedThings: number };
  /** timeoutConfig.inProgressTimeoutInMinutes. */
  inProgressTimeoutInMinutes?: number;
}

export interface StoredJob extends JobSpec {
  status: JobStatus;
  createdAt: number;
  lastUpdatedAt: number;
  completedAt?: number;
  /** How many of `targets` have an execution so far (the rollout releases them in order). */
  released: number;
  /** When the rollout releases its next batch. */
  nextReleaseAt?: number;
  /** Why the job ended early: 'CANCELED' by CancelJob, 'ABORTED' by the abort criteria. */
  reasonCode?: string;
}

/** A JobExecution as stored: times in milliseconds of the service clock (messages carry seconds), no document. */
export interface StoredExecution extends Omit<JobExecution, 'jobDocument' | 'approximateSecondsBeforeTimedOut'> {
  /** When the current step timer (stepTimeoutInMinutes) ends the execution as TIMED_OUT. */
  stepDeadline?: number;
  /** When the job's in-progress timer ends it as TIMED_OUT (set when the execution goes IN_PROGRESS). */
  inProgressDeadline?: number;
}
