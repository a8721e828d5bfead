import type { JobExecutionState, JobsErrorCode } from '../../protocol/jobs.js';

/** A request the Jobs service refuses; becomes a `.../rejected` reply (jobs-api.html, ErrorResponse). */
export class JobsError extends Error {
  override readonly name = 'JobsError';
  constructor(
    readonly code: JobsErrorCode,
    message: string,
    /** Only with InvalidStateTransition and VersionMismatch, as AWS documents. */
    readonly executionState?: JobExecutionState,
  ) {
    super(message);
  }
}

/** A control-plane call (CreateJob, CancelJob, ...) that is refused; the control API answers 400/404/409. */
export class JobsAdminError extends Error {
  override readonly name = 'JobsAdminError';
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}
