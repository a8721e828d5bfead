/**
 * Saves and loads devcloud's jobs and executions as one JSON file (like shadow/persist.ts): a temp
 * file renamed over the old one, so a crash leaves the old or the new state, never half of one.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StoredExecution, StoredJob } from './model.js';

export const JOBS_FILE_FORMAT = 'cloudcam-jobs/1';

export interface PersistedJobs {
  jobs: StoredJob[];
  executions: StoredExecution[];
}

export function saveJobs(path: string, state: PersistedJobs): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify({ format: JOBS_FILE_FORMAT, ...state }), { mode: 0o600 });
  renameSync(temp, path);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The saved state, or an empty one when the file does not exist yet. */
export function loadJobs(path: string): PersistedJobs {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { jobs: [], executions: [] };
    throw err;
  }
  const fail = (why: string): Error => new Error(`jobs file ${path} is unusable (${why}); restore it from a backup or delete it to start without jobs`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw fail('not valid JSON');
  }
  if (!isObject(parsed) || parsed.format !== JOBS_FILE_FORMAT || !Array.isArray(parsed.jobs) || !Array.isArray(parsed.executions)) {
    throw fail(`expected {"format":"${JOBS_FILE_FORMAT}","jobs":[...],"executions":[...]}`);
  }
  const jobs: unknown[] = parsed.jobs;
  const executions: unknown[] = parsed.executions;
  if (!jobs.every((j) => isObject(j) && typeof j.jobId === 'string' && Array.isArray(j.targets) && typeof j.document === 'string')) throw fail('a job lacks jobId, targets or document');
  if (!executions.every((e) => isObject(e) && typeof e.jobId === 'string' && typeof e.thingName === 'string' && typeof e.versionNumber === 'number')) {
    throw fail('an execution lacks jobId, thingName or versionNumber');
  }
  return { jobs: jobs as StoredJob[], executions: executions as StoredExecution[] };
}
