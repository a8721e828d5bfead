/**
 * What an update in progress leaves on disk for the next process (and, in the gateway layout, for
 * the POSIX-sh launcher, which is why these are `key=value` lines and not JSON):
 *
 *   {updateDir}/pending      written before the swap, removed when the new version confirms itself
 *   {updateDir}/starts       how many times a process started while `pending` existed
 *   {updateDir}/rolled-back  why the update was undone (read by the old version's resume, then removed)
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { readFileIfExists, writeFileAtomic } from '../../lib/atomic-file.js';

export interface PendingUpdate {
  jobId: string;
  version: string;
  /** The version that installed it (and that a rollback returns to). */
  from: string;
  /** Gateway: the release name to go back to (`base` = the installed one); ACAP: the previous .eap path or ''. */
  previous: string;
  /** Epoch seconds: when the package was put in place. */
  installedAt: number;
  /** Epoch seconds: by then the new version must have connected and passed its self-check. */
  deadline: number;
  /** Starts of the new version allowed before the launcher (or the watch) calls it a crash loop. */
  maxStarts: number;
}

export interface RolledBack {
  jobId: string;
  version: string;
  reason: string;
  /** Epoch seconds. */
  at: number;
}

const VALUE = /^[^\n]*$/;

export function formatRecord(fields: Record<string, string | number>): string {
  return Object.entries(fields)
    .map(([k, v]) => {
      const s = String(v);
      if (!VALUE.test(s)) throw new Error(`update record ${k} must be one line`);
      return `${k}=${s}\n`;
    })
    .join('');
}

export function parseRecord(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

export class UpdateRecords {
  constructor(readonly dir: string) {}

  private file(name: 'pending' | 'starts' | 'rolled-back'): string {
    return path.join(this.dir, name);
  }

  async writePending(p: PendingUpdate): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await rm(this.file('starts'), { force: true });
    await rm(this.file('rolled-back'), { force: true });
    await writeFileAtomic(this.file('pending'), formatRecord({ ...p }));
  }

  async pending(): Promise<PendingUpdate | undefined> {
    const text = await readFileIfExists(this.file('pending'));
    if (text === undefined) return undefined;
    const r = parseRecord(text);
    const deadline = Number(r['deadline']);
    const maxStarts = Number(r['maxStarts']);
    const installedAt = Number(r['installedAt'] ?? deadline);
    if (!r['jobId'] || !r['version'] || !Number.isFinite(deadline) || !Number.isFinite(maxStarts)) return undefined;
    return { jobId: r['jobId'], version: r['version'], from: r['from'] ?? '', previous: r['previous'] ?? '', installedAt, deadline, maxStarts };
  }

  /** The new version confirmed itself: nothing left to roll back. */
  async clearPending(): Promise<void> {
    await rm(this.file('pending'), { force: true });
    await rm(this.file('starts'), { force: true });
  }

  /** Counts one more start of a pending update; returns the count. */
  async countStart(): Promise<number> {
    const n = Number((await readFileIfExists(this.file('starts')))?.trim() ?? '0');
    const next = (Number.isFinite(n) ? n : 0) + 1;
    await writeFileAtomic(this.file('starts'), `${next}\n`);
    return next;
  }

  async starts(): Promise<number> {
    const n = Number((await readFileIfExists(this.file('starts')))?.trim() ?? '0');
    return Number.isFinite(n) ? n : 0;
  }

  /** Records a rollback and drops the pending update (in that order: a crash between leaves both, and pending is retried). */
  async writeRolledBack(r: RolledBack): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file('rolled-back'), formatRecord({ ...r }));
    await this.clearPending();
  }

  async rolledBack(): Promise<RolledBack | undefined> {
    const text = await readFileIfExists(this.file('rolled-back'));
    if (text === undefined) return undefined;
    const r = parseRecord(text);
    return { jobId: r['jobId'] ?? '', version: r['version'] ?? '', reason: r['reason'] ?? 'rolled back (no reason recorded)', at: Number(r['at'] ?? 0) };
  }

  async clearRolledBack(): Promise<void> {
    await rm(this.file('rolled-back'), { force: true });
  }
}
