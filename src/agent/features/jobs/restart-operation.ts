import { randomBytes } from 'node:crypto';
import type { JobOperation, JobOutcome } from './operation.js';

/**
 * `cloudcam.restart`: the agent stops cleanly and its supervisor starts it again (ACAP `runMode:
 * respawn`, systemd `Restart=always`). The execution is handed over with a stage marker naming this
 * process; the next process's `resume` sees the marker from another process and reports SUCCEEDED.
 * The same process never confirms its own restart (it may reconnect before it exits).
 */
export const RESTART_OPERATION = 'cloudcam.restart';

export function createRestartOperation(deps: { requestRestart: (why: string) => void }): JobOperation {
  /** Tells this process from the next one (a pid may repeat; in-process agents share one). */
  const processRun = randomBytes(6).toString('hex');
  return {
    name: RESTART_OPERATION,
    async run(job) {
      const details = { stage: 'restarting', restartedBy: processRun };
      await job.progress(details); // recorded before the process goes away
      deps.requestRestart(`job ${job.jobId} (${RESTART_OPERATION})`);
      return { status: 'HANDED_OVER', details };
    },
    async resume(job): Promise<JobOutcome> {
      const { stage, restartedBy } = job.statusDetails;
      if (stage === 'restarting' && restartedBy !== processRun) return { status: 'SUCCEEDED', details: { stage: 'restarted' } };
      if (stage === 'restarting') return { status: 'FAILED', details: { reason: 'the agent did not restart: the same process was still running' } };
      return { status: 'FAILED', details: { reason: 'interrupted: the agent stopped before it could restart as asked; create a new job to restart it' } };
    },
  };
}
