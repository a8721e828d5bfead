import { JOBS_LIMITS, TERMINAL_STATUSES, statusDetailsProblem, type DeviceSettableStatus, type JobExecution, type JobExecutionState, type StatusDetails } from '../../../protocol/jobs.js';
import { JobsRejectedError, JobsTimeoutError, type JobsClient } from './client.js';

/**
 * Writes one execution's status through UpdateJobExecution, always with `expectedVersion`, so an
 * update never lands on a state this agent has not seen. A VersionMismatch (a reply that got lost
 * after the update applied, or another writer) is settled by reading the current state (from the
 * rejection, else by describing) and retrying once at its version; a terminal state (cancelled,
 * timed out, removed) ends the execution for this agent.
 */
export type UpdateResult = { ok: true } | { ok: false; ended: string };

const TIMEOUT_RETRIES = 2;

export class ExecutionUpdater {
  private version: number;
  private current: StatusDetails;
  /** Whether this process wrote the execution yet (the first update always goes out). */
  private written = false;

  constructor(
    private readonly client: Pick<JobsClient, 'update' | 'describe'>,
    readonly jobId: string,
    execution: Pick<JobExecution, 'versionNumber' | 'statusDetails'>,
  ) {
    this.version = execution.versionNumber;
    this.current = { ...execution.statusDetails };
  }

  get details(): StatusDetails {
    return { ...this.current };
  }

  /** Merges `details` into what the execution carries (AWS replaces the whole map) and writes it with `status`. */
  async update(status: DeviceSettableStatus, details: StatusDetails, stepTimeoutInMinutes?: number): Promise<UpdateResult> {
    const merged = fitStatusDetails({ ...this.current, ...details });
    if (status === 'IN_PROGRESS' && stepTimeoutInMinutes === undefined && sameDetails(merged, this.current) && this.written) return { ok: true };
    let mismatchRetried = false;
    let timeouts = 0;
    for (;;) {
      try {
        const state = await this.client.update(this.jobId, {
          status,
          statusDetails: merged,
          expectedVersion: this.version,
          ...(stepTimeoutInMinutes !== undefined ? { stepTimeoutInMinutes } : {}),
        });
        this.version = state?.versionNumber ?? this.version + 1;
        this.current = merged;
        this.written = true;
        return { ok: true };
      } catch (err) {
        if (err instanceof JobsTimeoutError && timeouts < TIMEOUT_RETRIES) {
          timeouts += 1; // if it did apply, the retry's VersionMismatch tells us
          continue;
        }
        if (!(err instanceof JobsRejectedError)) throw err;
        if (err.code === 'ResourceNotFound') return { ok: false, ended: `the job execution is gone (${err.message})` };
        if (err.code !== 'VersionMismatch' && err.code !== 'InvalidStateTransition' && err.code !== 'TerminalStateReached') throw err;
        const state = err.executionState ?? (await this.describe());
        if (!state) return { ok: false, ended: `the job execution has ended or is gone (${err.message})` };
        if (TERMINAL_STATUSES.has(state.status)) {
          // Our own earlier attempt applied and only its reply was lost: done.
          if (state.status === status && sameDetails(state.statusDetails ?? {}, merged)) {
            this.version = state.versionNumber;
            return { ok: true };
          }
          return { ok: false, ended: `the job execution is ${state.status}` };
        }
        if (err.code !== 'VersionMismatch' || mismatchRetried) throw err;
        mismatchRetried = true;
        this.version = state.versionNumber;
      }
    }
  }

  private async describe(): Promise<JobExecutionState | undefined> {
    try {
      const e = await this.client.describe(this.jobId);
      return e && { status: e.status, versionNumber: e.versionNumber, ...(e.statusDetails ? { statusDetails: e.statusDetails } : {}) };
    } catch (err) {
      if (err instanceof JobsRejectedError && (err.code === 'ResourceNotFound' || err.code === 'TerminalStateReached')) return undefined;
      throw err;
    }
  }
}

function sameDetails(a: StatusDetails, b: StatusDetails): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** Runs of characters AWS refuses in a value (`[^\p{C}]+`): line breaks, tabs, NUL, lone surrogates ... */
const NON_PRINTABLE = /\p{C}+/gu;

/**
 * statusDetails within AWS's limits whatever an operation put in: keys that AWS would refuse are
 * dropped, non-printable characters (an error text's line breaks) become spaces, empty values are
 * left out and long values cut to the limit (never inside a surrogate pair), so a report is never
 * rejected as InvalidRequest and the execution never stays IN_PROGRESS for want of a valid one.
 */
export function fitStatusDetails(details: StatusDetails): StatusDetails {
  const out: StatusDetails = {};
  const max = JOBS_LIMITS.statusDetailsValueMaxLength;
  for (const [k, v] of Object.entries(details)) {
    if (!JOBS_LIMITS.statusDetailsKeyPattern.test(k) || typeof v !== 'string') continue;
    let value = v.replace(NON_PRINTABLE, ' ').trim();
    if (value.length > max) value = `${value.slice(0, max - 1).replace(/[\uD800-\uDBFF]$/, '')}…`;
    if (value.length > 0) out[k] = value;
  }
  const problem = statusDetailsProblem(out);
  if (problem) throw new Error(`statusDetails still invalid after fitting: ${problem}`); // a bug here, not bad input
  return out;
}
