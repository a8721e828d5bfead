/**
 * The new version's side of an update: started with the agent, before anything connects. While an
 * update to the running version is pending it holds the deadline (install time + update.connectBoundMs):
 * if the version has not confirmed itself by then (connected, self-check passed: the operation's
 * resume calls confirm()), it rolls back to the previous package and ends the process so the
 * previous one runs and reports the job FAILED with the reason. On a camera (no launcher) it also
 * counts starts, so a version that crashes after starting is rolled back after update.maxStarts.
 */
import type { Logger } from 'pino';
import type { Installer } from './installer.js';
import type { PendingUpdate, UpdateRecords } from './records.js';

export interface UpdateWatch {
  /** The pending update this process is the new version of, if any. */
  readonly pending: PendingUpdate | undefined;
  /** The new version has connected and passed its self-check: nothing to roll back any more. */
  confirm(): Promise<void>;
  /** Rolls back now (self-check failed); resolves once the previous package is in place, or with why it cannot be. */
  rollback(reason: string): Promise<{ ok: true } | { ok: false; error: string }>;
  stop(): void;
}

export interface WatchOptions {
  records: UpdateRecords;
  installer: Installer | undefined;
  runningVersion: string;
  /** Ends this process so the service manager (or the camera) starts the other version. */
  restart: (reason: string) => void;
  log: Logger;
  now?: () => number;
}

export async function startUpdateWatch(opts: WatchOptions): Promise<UpdateWatch> {
  const { records, installer, log } = opts;
  const now = opts.now ?? Date.now;
  let pending = await records.pending();
  let timer: NodeJS.Timeout | undefined;
  let rollingBack: Promise<{ ok: true } | { ok: false; error: string }> | undefined;

  const rollback = (reason: string): Promise<{ ok: true } | { ok: false; error: string }> =>
    (rollingBack ??= (async () => {
      const p = pending;
      if (!p || !installer) return { ok: false as const, error: 'no update is pending' };
      if (timer) clearTimeout(timer);
      log.warn({ event: 'update.rollback', jobId: p.jobId, version: p.version, previous: p.previous, reason }, `rolling back the update to ${p.version}: ${reason}`);
      try {
        await installer.rollback(p.previous);
      } catch (err) {
        // Keep the pending record: the next start (or the launcher) tries again.
        const error = (err as Error).message;
        log.error({ event: 'update.rollback-failed', jobId: p.jobId, err: error }, `cannot roll back the update to ${p.version}: ${error}`);
        rollingBack = undefined;
        return { ok: false as const, error };
      }
      await records.writeRolledBack({ jobId: p.jobId, version: p.version, reason, at: Math.floor(now() / 1000) });
      pending = undefined;
      if (installer.exitsToSwitch) opts.restart(`rolled back the update to ${p.version}`);
      return { ok: true as const };
    })());

  if (pending && installer) {
    const p = pending;
    if (p.version !== opts.runningVersion) {
      // The pending version is not the one that started (the switch did not take): nothing ran to confirm it.
      await records.writeRolledBack({ jobId: p.jobId, version: p.version, reason: `version ${p.version} did not start; ${opts.runningVersion} is running`, at: Math.floor(now() / 1000) });
      pending = undefined;
    } else {
      // The gateway's launcher counts starts itself; on a camera nobody else does.
      const starts = installer.kind === 'acap' ? await records.countStart() : await records.starts();
      const leftMs = p.deadline * 1000 - now();
      log.info({ event: 'update.pending', jobId: p.jobId, version: p.version, starts, secondsLeft: Math.max(0, Math.round(leftMs / 1000)) }, `running update ${p.version} on trial: it must connect and pass its self-check within ${Math.max(0, Math.round(leftMs / 1000))} s`);
      // One reason whether the deadline passes while this process runs or had passed before it started
      // (a slow start): operators and the job's statusDetails see the same words either way.
      const missedDeadline = `the new version did not connect and pass its self-check within ${p.deadline - p.installedAt} s of its install`;
      if (installer.kind === 'acap' && starts > p.maxStarts) void rollback(`the new version started ${starts} times without confirming itself (crash loop)`);
      else if (leftMs <= 0) void rollback(missedDeadline);
      else {
        timer = setTimeout(() => void rollback(missedDeadline), leftMs);
        timer.unref();
      }
    }
  }

  return {
    get pending() {
      return pending;
    },
    async confirm() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (rollingBack) throw new Error('the update is already being rolled back');
      await records.clearPending();
      pending = undefined;
    },
    rollback,
    stop() {
      if (timer) clearTimeout(timer);
    },
  };
}
