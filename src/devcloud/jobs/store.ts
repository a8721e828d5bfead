/**
 * devcloud's AWS IoT Jobs service state: CreateJob/CancelJob/DescribeJob for the operator, and the
 * device operations of the Jobs MQTT API (get pending, start-next, describe, update) with AWS's rules
 * (docs/protocol-jobs.md cites each one). Synchronous, like the shadow store; the MQTT front end
 * (mqtt-service.ts) turns results into replies and 'pending' events into notify / notify-next.
 *
 * Time runs on an injectable clock, and one Jobs "minute" (timeouts, rollout rate) is `minuteMs`
 * long, so tests can run a 1-minute step timeout in a fraction of a second.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../../lib/log.js';
import {
  TERMINAL_STATUSES,
  type DeviceSettableStatus,
  type JobExecutionState,
  type JobExecutionStatus,
  type StatusDetails,
} from '../../protocol/jobs.js';
import { JobsAdminError, JobsError } from './errors.js';
import type { JobSpec, JobStatus, StoredExecution, StoredJob } from './model.js';
import { loadJobs, saveJobs } from './persist.js';
import { validateJobSpec } from './spec.js';

export interface JobStoreOptions {
  /** Where jobs survive a devcloud restart (DIR/jobs.json); none: in memory only. */
  persistPath?: string;
  now?: () => number;
  /** Milliseconds in one Jobs minute (step and in-progress timeouts, rollout rate); default 60000. */
  minuteMs?: number;
  /** Whether a thing exists (CreateJob refuses unknown targets, as AWS does for unknown thing ARNs). */
  thingExists?: (thing: string) => boolean;
  /** Buckets a job document's presigned-URL placeholders may name. */
  presignableBuckets?: readonly string[];
  log?: Logger;
}

/** What changed in one thing's pending list: `list` = an execution joined or left it; `next` = its head changed. */
export interface PendingChange {
  list: boolean;
  next: boolean;
}

export interface StartNextInput {
  statusDetails?: StatusDetails;
  stepTimeoutInMinutes?: number;
}

export interface UpdateInput {
  status: DeviceSettableStatus;
  statusDetails?: StatusDetails;
  expectedVersion?: number;
  executionNumber?: number;
  stepTimeoutInMinutes?: number;
}

const key = (jobId: string, thing: string): string => `${jobId}\u0000${thing}`;

export function executionState(e: StoredExecution): JobExecutionState {
  return { status: e.status, ...(e.statusDetails ? { statusDetails: e.statusDetails } : {}), versionNumber: e.versionNumber };
}

export class JobStore extends EventEmitter<{ pending: [thing: string, change: PendingChange] }> {
  private readonly jobs = new Map<string, StoredJob>();
  /** Insertion order = queue order: executions are released in order, so earlier ones come first. */
  private readonly executions = new Map<string, StoredExecution>();
  private readonly now: () => number;
  readonly minuteMs: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: JobStoreOptions = {}) {
    super();
    this.now = opts.now ?? Date.now;
    this.minuteMs = opts.minuteMs ?? 60_000;
    if (!(this.minuteMs > 0)) throw new Error(`minuteMs must be above 0, got ${this.minuteMs}`);
    if (opts.persistPath) {
      const saved = loadJobs(opts.persistPath);
      for (const job of saved.jobs) this.jobs.set(job.jobId, job);
      for (const e of saved.executions) this.executions.set(key(e.jobId, e.thingName), e);
    }
    // Deadlines that passed while devcloud was down take effect now.
    this.onTimer();
  }

  /** Epoch seconds, as every Jobs message carries them. */
  seconds(ms = this.now()): number {
    return Math.floor(ms / 1000);
  }

  // ---- operator side (CreateJob, CancelJob, DescribeJob, ListJobExecutionsForJob) ----

  createJob(input: JobSpec): StoredJob {
    const spec = validateJobSpec(input, { thingExists: this.opts.thingExists, presignableBuckets: this.opts.presignableBuckets });
    if (this.jobs.has(spec.jobId)) throw new JobsAdminError(409, `a job with id ${spec.jobId} already exists; job ids are unique (pick another id)`);
    const now = this.now();
    const job: StoredJob = { ...spec, status: 'IN_PROGRESS', createdAt: now, lastUpdatedAt: now, released: 0 };
    this.change(() => {
      this.jobs.set(job.jobId, job);
      this.release(job, now);
    });
    this.opts.log?.info({ jobId: job.jobId, targets: job.targets.length, rollout: job.rollout?.maximumPerMinute }, 'job created');
    return job;
  }

  /** CancelJob without force: QUEUED executions are canceled, IN_PROGRESS ones may still finish. */
  cancelJob(jobId: string, reasonCode = 'CANCELED'): void {
    const job = this.jobs.get(jobId);
    if (!job) throw new JobsAdminError(404, `no job with id ${jobId}`);
    if (job.status !== 'IN_PROGRESS') return;
    this.change(() => this.endJob(job, reasonCode));
  }

  job(jobId: string): StoredJob | undefined {
    return this.jobs.get(jobId);
  }

  jobIds(): string[] {
    return [...this.jobs.keys()];
  }

  /** The job's executions so far (a rollout creates them as it releases them), in release order. */
  executionsOf(jobId: string): StoredExecution[] {
    return [...this.executions.values()].filter((e) => e.jobId === jobId);
  }

  // ---- device side (the Jobs MQTT API) ----

  /** GetPendingJobExecutions. */
  pending(thing: string): { inProgress: StoredExecution[]; queued: StoredExecution[] } {
    const mine = [...this.executions.values()].filter((e) => e.thingName === thing);
    return { inProgress: mine.filter((e) => e.status === 'IN_PROGRESS'), queued: mine.filter((e) => e.status === 'QUEUED') };
  }

  /** The next pending execution: the oldest IN_PROGRESS one, else the oldest QUEUED one. */
  next(thing: string): StoredExecution | undefined {
    const { inProgress, queued } = this.pending(thing);
    return inProgress[0] ?? queued[0];
  }

  /** StartNextPendingJobExecution: an IN_PROGRESS execution is returned unchanged; else the next QUEUED one starts. */
  startNext(thing: string, input: StartNextInput): StoredExecution | undefined {
    const next = this.next(thing);
    if (!next || next.status === 'IN_PROGRESS') return next;
    this.change(() => {
      const now = this.now();
      next.status = 'IN_PROGRESS';
      next.startedAt = now;
      if (input.statusDetails) next.statusDetails = input.statusDetails;
      this.startTimers(next, now, input.stepTimeoutInMinutes);
      this.touch(next, now);
    });
    return next;
  }

  /** DescribeJobExecution; `$next` is the next pending execution (undefined when there is none). */
  describe(thing: string, jobId: string, executionNumber?: number): StoredExecution | undefined {
    if (jobId === '$next') return this.next(thing);
    const e = this.executions.get(key(jobId, thing));
    if (!e || (executionNumber !== undefined && executionNumber !== e.executionNumber)) {
      throw new JobsError('ResourceNotFound', `no job execution of job ${jobId} for thing ${thing}${executionNumber !== undefined ? ` with executionNumber ${executionNumber}` : ''}`);
    }
    if (TERMINAL_STATUSES.has(e.status)) throw new JobsError('TerminalStateReached', `job execution ${jobId} of ${thing} is in terminal state ${e.status}`);
    return e;
  }

  /** UpdateJobExecution. */
  update(thing: string, jobId: string, input: UpdateInput): StoredExecution {
    const e = this.executions.get(key(jobId, thing));
    if (!e || (input.executionNumber !== undefined && input.executionNumber !== e.executionNumber)) {
      throw new JobsError('ResourceNotFound', `no job execution of job ${jobId} for thing ${thing}`);
    }
    if (input.expectedVersion !== undefined && input.expectedVersion !== e.versionNumber) {
      throw new JobsError('VersionMismatch', `expectedVersion ${input.expectedVersion} does not match the current version ${e.versionNumber}`, executionState(e));
    }
    if (TERMINAL_STATUSES.has(e.status)) {
      throw new JobsError('InvalidStateTransition', `job execution ${jobId} of ${thing} is ${e.status} (terminal) and cannot become ${input.status}`, executionState(e));
    }
    this.change(() => {
      const now = this.now();
      const starting = e.status === 'QUEUED' && input.status === 'IN_PROGRESS';
      e.status = input.status;
      if (input.statusDetails) e.statusDetails = { ...e.statusDetails, ...input.statusDetails };
      if (TERMINAL_STATUSES.has(e.status)) {
        delete e.stepDeadline;
        delete e.inProgressDeadline;
      } else if (starting) {
        e.startedAt = now;
        this.startTimers(e, now, input.stepTimeoutInMinutes);
      } else if (input.stepTimeoutInMinutes !== undefined) {
        // -1 cancels the current step timer; any other value starts a new one.
        if (input.stepTimeoutInMinutes === -1) delete e.stepDeadline;
        else e.stepDeadline = now + input.stepTimeoutInMinutes * this.minuteMs;
      }
      this.touch(e, now);
      this.afterExecutionChange(e.jobId, now);
    });
    return e;
  }

  /** Seconds (in Jobs minutes of this store) until the earliest timer ends the execution, if one runs. */
  secondsBeforeTimedOut(e: StoredExecution): number | undefined {
    const deadlines = [e.stepDeadline, e.inProgressDeadline].filter((d): d is number => d !== undefined);
    if (deadlines.length === 0) return undefined;
    return Math.max(0, Math.round(((Math.min(...deadlines) - this.now()) / this.minuteMs) * 60));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  // ---- internals ----

  private startTimers(e: StoredExecution, now: number, stepTimeoutInMinutes: number | undefined): void {
    const job = this.jobs.get(e.jobId);
    if (job?.inProgressTimeoutInMinutes !== undefined) e.inProgressDeadline = now + job.inProgressTimeoutInMinutes * this.minuteMs;
    if (stepTimeoutInMinutes !== undefined && stepTimeoutInMinutes !== -1) e.stepDeadline = now + stepTimeoutInMinutes * this.minuteMs;
  }

  private touch(e: StoredExecution, now: number): void {
    e.versionNumber += 1;
    e.lastUpdatedAt = now;
  }

  /** Creates the executions the rollout allows now (all of them without a rollout config). */
  private release(job: StoredJob, now: number): void {
    if (job.status !== 'IN_PROGRESS') return;
    const batch = job.rollout ? job.rollout.maximumPerMinute : job.targets.length;
    const upTo = Math.min(job.targets.length, job.released + batch);
    for (const thing of job.targets.slice(job.released, upTo)) {
      this.executions.set(key(job.jobId, thing), { jobId: job.jobId, thingName: thing, status: 'QUEUED', queuedAt: now, lastUpdatedAt: now, versionNumber: 1, executionNumber: 1 });
    }
    job.released = upTo;
    if (upTo < job.targets.length) job.nextReleaseAt = now + this.minuteMs;
    else delete job.nextReleaseAt;
  }

  /** After an execution reached a state: the abort criteria, then whether the job is complete. */
  private afterExecutionChange(jobId: string, now: number): void {
    const job = this.jobs.get(jobId);
    if (!job || job.status !== 'IN_PROGRESS') return;
    const executions = this.executionsOf(jobId);
    if (job.abort) {
      const executed = executions.filter((e) => ['SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT'].includes(e.status));
      const failureType = job.abort.failureType;
      const failed = executed.filter((e) => (failureType === 'ALL' ? e.status !== 'SUCCEEDED' : e.status === failureType));
      if (executed.length >= job.abort.minNumberOfExecutedThings && (failed.length * 100) / executed.length >= job.abort.thresholdPercentage) {
        this.opts.log?.warn({ jobId, executed: executed.length, failed: failed.length }, 'job aborted: failure threshold reached');
        this.endJob(job, 'ABORTED');
        return;
      }
    }
    if (job.released === job.targets.length && executions.every((e) => TERMINAL_STATUSES.has(e.status))) {
      job.status = 'COMPLETED';
      job.completedAt = now;
      job.lastUpdatedAt = now;
    }
  }

  private endJob(job: StoredJob, reasonCode: string): void {
    const now = this.now();
    job.status = 'CANCELED' satisfies JobStatus;
    job.reasonCode = reasonCode;
    job.lastUpdatedAt = now;
    job.completedAt = now;
    delete job.nextReleaseAt;
    for (const e of this.executionsOf(job.jobId)) {
      if (e.status !== 'QUEUED') continue;
      e.status = 'CANCELED';
      this.touch(e, now);
    }
  }

  private timeOut(e: StoredExecution, now: number): void {
    e.status = 'TIMED_OUT' satisfies JobExecutionStatus;
    delete e.stepDeadline;
    delete e.inProgressDeadline;
    this.touch(e, now);
    this.opts.log?.info({ jobId: e.jobId, thing: e.thingName }, 'job execution timed out');
    this.afterExecutionChange(e.jobId, now);
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const now = this.now();
    const dueExecutions = [...this.executions.values()].filter(
      (e) => e.status === 'IN_PROGRESS' && ((e.stepDeadline ?? Infinity) <= now || (e.inProgressDeadline ?? Infinity) <= now),
    );
    const dueJobs = [...this.jobs.values()].filter((j) => j.status === 'IN_PROGRESS' && (j.nextReleaseAt ?? Infinity) <= now);
    if (dueExecutions.length === 0 && dueJobs.length === 0) return this.schedule();
    try {
      this.change(() => {
        for (const e of dueExecutions) this.timeOut(e, now);
        for (const job of dueJobs) this.release(job, now);
      });
    } catch (err) {
      // A timer has no caller to hand the error to (e.g. jobs.json not writable): log it and keep
      // the timers going rather than take devcloud down.
      this.opts.log?.error({ err: err instanceof Error ? err.message : String(err) }, 'jobs timer failed');
      this.schedule();
    }
  }

  /** One timer for the earliest deadline of all. */
  private schedule(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    let earliest = Infinity;
    for (const e of this.executions.values()) {
      if (e.status === 'IN_PROGRESS') earliest = Math.min(earliest, e.stepDeadline ?? Infinity, e.inProgressDeadline ?? Infinity);
    }
    for (const j of this.jobs.values()) if (j.status === 'IN_PROGRESS') earliest = Math.min(earliest, j.nextReleaseAt ?? Infinity);
    if (earliest === Infinity) return;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, earliest - this.now()));
    this.timer.unref();
  }

  /** Runs a mutation, saves, reschedules, then reports each thing whose pending list or head changed. */
  private change(mutate: () => void): void {
    const before = this.pendingSnapshot();
    mutate();
    if (this.opts.persistPath) saveJobs(this.opts.persistPath, { jobs: [...this.jobs.values()], executions: [...this.executions.values()] });
    this.schedule();
    const after = this.pendingSnapshot();
    for (const thing of new Set([...before.keys(), ...after.keys()])) {
      const b = before.get(thing);
      const a = after.get(thing);
      const change = { list: (b?.ids ?? '') !== (a?.ids ?? ''), next: b?.next !== a?.next };
      if (change.list || change.next) this.emit('pending', thing, change);
    }
  }

  private pendingSnapshot(): Map<string, { ids: string; next: string | undefined }> {
    const out = new Map<string, { ids: string; next: string | undefined }>();
    for (const e of this.executions.values()) {
      if (!out.has(e.thingName)) out.set(e.thingName, { ids: '', next: undefined });
    }
    for (const thing of out.keys()) {
      const { inProgress, queued } = this.pending(thing);
      const head = inProgress[0] ?? queued[0];
      out.set(thing, { ids: [...inProgress, ...queued].map((e) => e.jobId).sort().join(','), next: head ? head.jobId : undefined });
    }
    return out;
  }
}
