import type { JobExecution, JobExecutionStatus, StatusDetails } from '../../../protocol/jobs.js';
import type { Logger } from '../../../lib/log.js';
import { JobsRejectedError, type JobsClient } from './client.js';
import { operationOf } from './document.js';
import type { JobOperation, JobOutcome, JobRun } from './operation.js';
import { ExecutionUpdater, type UpdateResult } from './updater.js';

/**
 * Runs AWS IoT Jobs executions one at a time. On every connect: subscribe, settle the executions
 * that are IN_PROGRESS from a previous process (an operation with `resume` finishes its own, e.g.
 * after a restart or an update; any other was interrupted and ends FAILED), then start-next until
 * nothing is pending. A notify-next while an execution runs is remembered, never started beside it;
 * one that says the running execution is no longer next makes the engine check whether it was
 * cancelled, and a cancelled execution's operation is stopped through its AbortSignal.
 */
export interface JobEngineOptions {
  client: JobsClient;
  operations: readonly JobOperation[];
  /** stepTimeoutInMinutes sent with start-next; the operation is also aborted locally when it passes. */
  stepTimeoutMinutes: number;
  isConnected: () => boolean;
  log: Logger;
  /** How soon a failed round is tried again while connected. */
  retryMs?: number;
}

export interface JobEngine {
  onConnected(): Promise<void>;
  /** Resolves when no round is running (tests). */
  idle(): Promise<void>;
  /** Aborts the running operation and waits for it (within graceMs), then closes. */
  stop(graceMs: number): Promise<void>;
}

interface Running {
  jobId: string;
  abort: AbortController;
  /** A cancellation check (describe) is in flight; `recheck`: another notify-next came meanwhile. */
  checking?: boolean;
  recheck?: boolean;
  /** jobs.notify-next-queued is logged once per running execution, not once per message. */
  queuedLogged?: boolean;
}

/** A final status that could not be written yet (disconnected, no reply): written first on the next round. */
interface Unreported {
  updater: ExecutionUpdater;
  outcome: Exclude<JobOutcome, { status: 'HANDED_OVER' }>;
}

const STOPPING = 'the agent is stopping';
/** Terminal statuses only the service or an operator sets (SUCCEEDED, FAILED, REJECTED come from this agent). */
const ENDED_ELSEWHERE: ReadonlySet<JobExecutionStatus> = new Set(['CANCELED', 'REMOVED', 'TIMED_OUT']);

export function createJobEngine(opts: JobEngineOptions): JobEngine {
  const { client, log } = opts;
  const retryMs = opts.retryMs ?? 30_000;
  const operations = new Map(opts.operations.map((o) => [o.name, o]));
  const known = [...operations.keys()];
  /** Executions this process handed over (a restart under way): the next process finishes them, never this one. */
  const handedOver = new Set<string>();
  const unreported = new Map<string, Unreported>();
  let running: Running | undefined;
  let round: Promise<void> | undefined;
  let again = false;
  let settleInProgress = true;
  let stopping = false;
  let retryTimer: NodeJS.Timeout | undefined;

  client.on('notify-next', (next) => {
    if (running) {
      if (!running.queuedLogged) log.info({ event: 'jobs.notify-next-queued', jobId: next?.jobId, running: running.jobId }, `job ${running.jobId} is running; the next one waits`);
      running.queuedLogged = true;
      again = true;
      if (next?.jobId !== running.jobId) checkCancelledSoon(running);
      return;
    }
    if (next) kick();
  });
  client.on('ignored', (topic, why) => log.warn({ event: 'jobs.message-ignored', topic, why }, `ignored a message on ${topic}: ${why}`));

  function kick(): void {
    again = true;
    if (round || stopping || !opts.isConnected()) return;
    let failed = false;
    round = drive()
      .catch((err: unknown) => {
        failed = true;
        if (stopping) return;
        log.warn({ event: 'jobs.round-failed', err: (err as Error).message }, `jobs: ${(err as Error).message}; trying again in ${Math.round(retryMs / 1000)} s`);
        if (!stopping && !retryTimer) {
          retryTimer = setTimeout(() => {
            retryTimer = undefined;
            kick();
          }, retryMs);
          retryTimer.unref();
        }
      })
      .finally(() => {
        round = undefined;
        if (again && !failed) kick(); // a notify-next that came as the round was ending
      });
  }

  async function drive(): Promise<void> {
    while (again && !stopping && opts.isConnected()) {
      again = false;
      for (const [jobId, u] of unreported) {
        await finish(u.updater, u.outcome);
        unreported.delete(jobId);
      }
      if (settleInProgress) {
        await settleLeftovers();
        settleInProgress = false;
      }
      if (stopping) return;
      const next = await client.startNext({ stepTimeoutInMinutes: opts.stepTimeoutMinutes });
      if (!next) log.debug({ event: 'jobs.none-pending' }, 'no pending job');
      if (!next || handedOver.has(next.jobId)) continue;
      await execute(next, 'run');
      again = true; // the next pending one, if any
    }
  }

  /** IN_PROGRESS executions this process did not start: handed over by a previous one, or interrupted. */
  async function settleLeftovers(): Promise<void> {
    const { inProgressJobs } = await client.getPending();
    for (const { jobId } of inProgressJobs) {
      if (handedOver.has(jobId) || unreported.has(jobId) || stopping) continue;
      await client.watch(jobId);
      const execution = await client.describe(jobId);
      if (execution?.status === 'IN_PROGRESS') await execute(execution, 'resume');
    }
  }

  async function execute(execution: JobExecution, mode: 'run' | 'resume'): Promise<void> {
    const { jobId } = execution;
    const abort = new AbortController();
    running = { jobId, abort };
    let stepTimer: NodeJS.Timeout | undefined;
    const armStepTimer = (minutes: number): void => {
      clearTimeout(stepTimer);
      stepTimer = setTimeout(() => abort.abort(new Error(`the step timeout of ${minutes} min passed`)), minutes * 60_000);
      stepTimer.unref();
    };
    try {
      await client.watch(jobId);
      const updater = new ExecutionUpdater(client, jobId, execution);
      if (mode === 'run') armStepTimer(opts.stepTimeoutMinutes);
      const run: JobRun = {
        jobId,
        document: execution.jobDocument,
        statusDetails: { ...execution.statusDetails },
        execution,
        signal: abort.signal,
        async progress(details: StatusDetails, stepTimeoutInMinutes?: number) {
          const r = await updater.update('IN_PROGRESS', details, stepTimeoutInMinutes);
          if (!r.ok) {
            abort.abort(new Error(r.ended));
            throw new Error(r.ended);
          }
          if (stepTimeoutInMinutes !== undefined) armStepTimer(stepTimeoutInMinutes);
        },
      };
      const outcome = await outcomeOf(run, mode);
      clearTimeout(stepTimer);
      if (outcome.status === 'HANDED_OVER') {
        // Handed over whether or not the report below lands (a restart or an install is under way):
        // this process must never run or resume it again; start-next keeps returning it while it is IN_PROGRESS.
        handedOver.add(jobId);
        const r = await updater.update('IN_PROGRESS', outcome.details);
        logResult(jobId, outcome, r);
        return;
      }
      try {
        await finish(updater, outcome);
      } catch (err) {
        unreported.set(jobId, { updater, outcome });
        throw err;
      }
    } finally {
      clearTimeout(stepTimer);
      running = undefined;
      if (!handedOver.has(jobId) && !unreported.has(jobId)) await client.unwatch(jobId);
    }
  }

  async function outcomeOf(run: JobRun, mode: 'run' | 'resume'): Promise<JobOutcome> {
    const doc = operationOf(run.document, known);
    if (!doc.ok) return { status: 'REJECTED', details: { reason: doc.reason } };
    const operation = operations.get(doc.operation)!;
    log.info({ event: mode === 'run' ? 'jobs.started' : 'jobs.resumed', jobId: run.jobId, operation: operation.name }, `job ${run.jobId}: ${mode === 'run' ? 'running' : 'resuming'} ${operation.name}`);
    if (mode === 'resume' && !operation.resume) {
      return { status: 'FAILED', details: { reason: `interrupted: the agent restarted while running ${operation.name}; create a new job to run it again` } };
    }
    try {
      return await (mode === 'run' ? operation.run(run) : operation.resume!(run));
    } catch (err) {
      const why = run.signal.aborted ? String((run.signal.reason as Error | undefined)?.message ?? run.signal.reason) : (err as Error).message;
      return { status: 'FAILED', details: { reason: `${operation.name} failed: ${why}` } };
    }
  }

  async function finish(updater: ExecutionUpdater, outcome: Exclude<JobOutcome, { status: 'HANDED_OVER' }>): Promise<void> {
    const r = await updater.update(outcome.status, outcome.details);
    logResult(updater.jobId, outcome, r);
  }

  function logResult(jobId: string, outcome: JobOutcome, r: UpdateResult): void {
    if (!r.ok) {
      log.warn({ event: 'jobs.ended-elsewhere', jobId, outcome: outcome.status, why: r.ended }, `job ${jobId}: ${r.ended}; its outcome ${outcome.status} was not recorded`);
      return;
    }
    const level = outcome.status === 'SUCCEEDED' || outcome.status === 'HANDED_OVER' ? 'info' : 'warn';
    log[level]({ event: `jobs.${outcome.status.toLowerCase().replace('_', '-')}`, jobId, details: outcome.details }, `job ${jobId}: ${outcome.status}`);
  }

  /**
   * One describe in flight per running execution however many notify-nexts arrive (a flood, or a
   * service that repeats itself), and one more after it if any came meanwhile: requests never pile up.
   */
  function checkCancelledSoon(r: Running): void {
    if (r.checking) {
      r.recheck = true;
      return;
    }
    r.checking = true;
    void (async () => {
      try {
        do {
          r.recheck = false;
          await checkCancelled(r);
        } while (r.recheck && running === r && !r.abort.signal.aborted);
      } finally {
        r.checking = false;
      }
    })();
  }

  /** notify-next no longer names the running execution: it may have been cancelled. */
  async function checkCancelled(r: Running): Promise<void> {
    let ended: string | undefined;
    try {
      const e = await client.describe(r.jobId);
      if (!e) ended = 'the job execution is gone';
      else if (ENDED_ELSEWHERE.has(e.status)) ended = `the job execution is ${e.status}`;
    } catch (err) {
      if (err instanceof JobsRejectedError && (err.code === 'ResourceNotFound' || err.code === 'TerminalStateReached')) ended = `the job execution has ended (${err.message})`;
      else log.debug({ event: 'jobs.describe-failed', jobId: r.jobId, err: (err as Error).message }, 'could not check the running job');
    }
    if (ended && running === r) {
      log.warn({ event: 'jobs.cancelled', jobId: r.jobId, why: ended }, `job ${r.jobId}: ${ended}; stopping its operation`);
      r.abort.abort(new Error(ended));
    }
  }

  return {
    async onConnected() {
      await client.subscribe();
      settleInProgress = true;
      kick();
    },
    async idle() {
      while (round) await round;
    },
    async stop(graceMs) {
      stopping = true;
      clearTimeout(retryTimer);
      if (running && round) {
        // The operation sees the abort and its outcome is still reported, within the grace.
        running.abort.abort(new Error(STOPPING));
        await within(round, graceMs);
      }
      client.close(); // a request still waiting for its reply ends now, not at its timeout
      if (round) await within(round, graceMs); // an operation that ignores its signal is left behind
    },
  };
}

async function within(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
