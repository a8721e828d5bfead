/**
 * The contract between the jobs feature (which talks to AWS IoT Jobs) and the operations it runs
 * (`cloudcam.update`, `cloudcam.restart`, `cloudcam.snapshot`). An operation never sees MQTT: it gets
 * the job's document and a way to report progress, and says how the execution ends.
 */
import type { JobExecution, StatusDetails } from '../../../protocol/jobs.js';

export interface JobRun {
  readonly jobId: string;
  /** The job document as delivered (in AWS with presigned-URL placeholders already replaced). */
  readonly document: unknown;
  /** statusDetails the execution carries now: an operation resumed after a restart reads its stage here. */
  readonly statusDetails: StatusDetails;
  readonly execution: JobExecution;
  /** Reports progress (status stays IN_PROGRESS); the feature handles versions and retries. */
  progress(details: StatusDetails, stepTimeoutInMinutes?: number): Promise<void>;
  /** Aborted when the agent stops or the execution is cancelled or removed. */
  readonly signal: AbortSignal;
}

export type JobOutcome =
  | { readonly status: 'SUCCEEDED' | 'FAILED' | 'REJECTED'; readonly details: StatusDetails }
  /**
   * The operation handed over to a new process (an update installed, a restart requested): the
   * execution stays IN_PROGRESS and the next agent process finishes it from `statusDetails`.
   */
  | { readonly status: 'HANDED_OVER'; readonly details: StatusDetails };

export interface JobOperation {
  /** The document's `operation` field this handles, e.g. `cloudcam.update`. */
  readonly name: string;
  run(job: JobRun): Promise<JobOutcome>;
  /**
   * Called once on connect for an IN_PROGRESS execution of this operation that a previous process
   * handed over (e.g. the new version after an update); it decides the final outcome.
   */
  resume?(job: JobRun): Promise<JobOutcome>;
}
