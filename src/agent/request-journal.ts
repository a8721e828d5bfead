import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../lib/atomic-file.js';
import type { SnapshotReport } from '../protocol/snapshot.js';

/**
 * The agent's memory of snapshot requests, persisted atomically in the state dir, so that a request
 * id is handled at most once, also across restarts. An id is journalled as `started` BEFORE the
 * camera is touched: a crash mid-upload then ends that request as failed on restart, never as a
 * second upload. Only the newest entries are kept; ids sort by time, so old ones cannot come back
 * in a live presigned POST anyway.
 */
export interface JournalEntry {
  id: string;
  state: 'started' | 'done';
  at: string;
  /** The S3 key the request named (from `started` on), so an interrupted request's report can name it. */
  key?: string | null;
  report?: SnapshotReport;
}

interface JournalFile {
  schema: 1;
  entries: JournalEntry[];
}

export class JournalWriteError extends Error {
  override readonly name = 'JournalWriteError';
}

export class RequestJournal {
  private entries = new Map<string, JournalEntry>();
  /**
   * Ids that were `started` but not `done` in the file when it was opened: requests a previous run
   * was handling when it was stopped without warning (crash, kill, power cut). Each needs a final
   * status even when its desired entry has since been replaced by a newer request.
   */
  readonly interrupted: string[] = [];
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly file: string,
    private readonly keep: number,
  ) {}

  static async open(stateDir: string, keep = 200): Promise<RequestJournal> {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const journal = new RequestJournal(path.join(stateDir, 'requests.json'), keep);
    let text: string | undefined;
    try {
      text = await readFile(journal.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      let parsed: JournalFile;
      try {
        parsed = JSON.parse(text) as JournalFile;
      } catch {
        // writeFileAtomic never leaves a torn file, so this is outside damage: refuse rather than
        // forget which requests were handled (forgetting could upload one twice).
        throw new Error(`${journal.file} is not valid JSON; move it away to start with an empty request journal (requests it named could then be handled again)`);
      }
      for (const e of parsed.entries ?? []) if (typeof e?.id === 'string') journal.entries.set(e.id, e);
      for (const e of journal.entries.values()) if (e.state === 'started') journal.interrupted.push(e.id);
    }
    return journal;
  }

  get(id: string): JournalEntry | undefined {
    return this.entries.get(id);
  }

  /** Journals the id as started; throws JournalWriteError when that cannot be made durable. */
  async begin(id: string, key: string | null = null): Promise<void> {
    await this.put({ id, state: 'started', at: new Date().toISOString(), key });
  }

  async finish(report: SnapshotReport): Promise<void> {
    await this.put({ id: report.id, state: 'done', at: report.at, report });
  }

  /** Resolves once every write begun so far has ended (a fire-and-forget finish included). */
  settled(): Promise<void> {
    return this.writing;
  }

  private async put(entry: JournalEntry): Promise<void> {
    const previous = this.entries.get(entry.id);
    this.entries.delete(entry.id);
    this.entries.set(entry.id, entry);
    while (this.entries.size > this.keep) this.entries.delete(this.entries.keys().next().value as string);
    const snapshot: JournalFile = { schema: 1, entries: [...this.entries.values()] };
    // Writes are serialised so an older snapshot of the map never lands after a newer one.
    const write = this.writing.then(() => writeFileAtomic(this.file, JSON.stringify(snapshot) + '\n', 0o600));
    this.writing = write.catch(() => undefined);
    try {
      await write;
    } catch (err) {
      if (previous) this.entries.set(entry.id, previous);
      else if (entry.state === 'started') this.entries.delete(entry.id);
      throw new JournalWriteError(`cannot write the request journal ${this.file}: ${(err as Error).message}; free space or fix the permissions of the state dir`);
    }
  }
}
