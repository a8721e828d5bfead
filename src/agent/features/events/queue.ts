import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../../lib/atomic-file.js';

/**
 * The on-disk queue of event snapshots waiting for an upload (offline, or no valid grant): the frame
 * is captured at event time and kept here until it is uploaded, in order. Bounded in count and bytes;
 * when full the oldest entries are dropped first, and the caller logs and counts them. Each entry is
 * `{seq}.jpg` then `{seq}.json` (written atomically): the JSON is the commit point, so a crash between
 * the two leaves an orphan picture that the next start deletes, never a half entry. Removing deletes
 * the JSON first for the same reason. The queue survives restarts.
 *
 * An entry is in the queue (peek, read) from the moment `push` is called, its picture held in memory
 * until it is on disk: the uploader need not wait for the fsyncs (~7 ms here) before it starts, and
 * `remove` waits for them, so a removed entry never reappears after a restart.
 */
export interface QueuedEvent {
  seq: number;
  /** The object key, fixed at capture time: an upload repeated after a crash writes the same object. */
  key: string;
  trigger: string;
  topic: string;
  /** ISO time of the event (the camera's timestamp). */
  eventTime: string;
  /** ISO time the picture was taken (entries queued before pre-event frames existed have none: the event time). */
  frameTime?: string;
  /** Where eventTime came from (entries queued before this existed have none: the camera). */
  timeSource?: 'camera' | 'agent';
  /** The event's items, free text included (entries queued before this existed have none). */
  source?: Record<string, string>;
  data?: Record<string, string>;
  bytes: number;
}

export interface EventQueue {
  readonly size: number;
  readonly bytes: number;
  /** Dropped since start because the queue was full (oldest first). */
  readonly dropped: number;
  /**
   * Adds an entry at once (in call order); resolves, once it is on disk, with the entries dropped to
   * make room (the new one itself when it alone is too big). If it cannot be written it leaves the
   * queue again and the promise rejects.
   */
  push(entry: Omit<QueuedEvent, 'seq' | 'bytes'>, jpeg: Buffer): Promise<QueuedEvent[]>;
  /** The oldest entry, or undefined. */
  peek(): QueuedEvent | undefined;
  read(entry: QueuedEvent): Promise<Buffer>;
  remove(entry: QueuedEvent): Promise<void>;
}

const ENTRY = /^(\d{1,15})\.json$/;
const PICTURE = /^(\d{1,15})\.jpg$/;

function isQueuedEvent(v: unknown): v is QueuedEvent {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return (
    Number.isSafeInteger(e['seq']) &&
    Number.isSafeInteger(e['bytes']) &&
    typeof e['key'] === 'string' &&
    typeof e['trigger'] === 'string' &&
    typeof e['topic'] === 'string' &&
    typeof e['eventTime'] === 'string' &&
    (e['frameTime'] === undefined || typeof e['frameTime'] === 'string') &&
    (e['timeSource'] === undefined || e['timeSource'] === 'camera' || e['timeSource'] === 'agent') &&
    isStringMap(e['source']) &&
    isStringMap(e['data'])
  );
}

/** Absent, or an object of strings (what the queue wrote; anything else is a damaged entry). */
function isStringMap(v: unknown): boolean {
  return v === undefined || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string'));
}

export async function openEventQueue(dir: string, limits: { maxCount: number; maxBytes: number }): Promise<EventQueue> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const names = await readdir(dir);
  const entries: QueuedEvent[] = [];
  for (const name of names) {
    if (!ENTRY.test(name)) continue;
    try {
      const parsed: unknown = JSON.parse(await readFile(path.join(dir, name), 'utf8'));
      if (isQueuedEvent(parsed) && names.includes(`${parsed.seq}.jpg`)) {
        entries.push(parsed);
        continue;
      }
    } catch {
      // unreadable: removed below
    }
    await rm(path.join(dir, name), { force: true });
  }
  entries.sort((a, b) => a.seq - b.seq);
  const kept = new Set(entries.map((e) => `${e.seq}.jpg`));
  for (const name of names) if (PICTURE.test(name) && !kept.has(name)) await rm(path.join(dir, name), { force: true });
  let bytes = entries.reduce((n, e) => n + e.bytes, 0);
  let next = (entries.at(-1)?.seq ?? 0) + 1;
  let dropped = 0;
  const files = (e: QueuedEvent) => ({ json: path.join(dir, `${e.seq}.json`), jpg: path.join(dir, `${e.seq}.jpg`) });
  /** Pictures whose entry is not on disk yet, and the writes in flight, by seq. */
  const held = new Map<number, Buffer>();
  const writes = new Map<number, Promise<void>>();

  function take(e: QueuedEvent): boolean {
    const i = entries.findIndex((x) => x.seq === e.seq);
    if (i < 0) return false;
    entries.splice(i, 1);
    bytes -= e.bytes;
    return true;
  }

  async function removeFiles(e: QueuedEvent): Promise<void> {
    await writes.get(e.seq)?.catch(() => undefined);
    held.delete(e.seq);
    await rm(files(e).json, { force: true });
    await rm(files(e).jpg, { force: true });
  }

  async function removeEntry(e: QueuedEvent): Promise<void> {
    if (take(e)) await removeFiles(e);
  }

  return {
    get size() {
      return entries.length;
    },
    get bytes() {
      return bytes;
    },
    get dropped() {
      return dropped;
    },
    async push(init, jpeg) {
      const entry: QueuedEvent = { ...init, seq: next, bytes: jpeg.length };
      next += 1;
      if (jpeg.length > limits.maxBytes || limits.maxCount < 1) {
        dropped += 1;
        return [entry];
      }
      const evicted: QueuedEvent[] = [];
      while (entries.length > 0 && (entries.length + 1 > limits.maxCount || bytes + jpeg.length > limits.maxBytes)) {
        const oldest = entries[0] as QueuedEvent;
        evicted.push(oldest);
        dropped += 1;
        take(oldest);
      }
      // Everything above ran before the first await: entries keep call order whatever the disk does.
      entries.push(entry);
      bytes += entry.bytes;
      held.set(entry.seq, jpeg);
      const written = (async () => {
        for (const e of evicted) await removeFiles(e);
        await writeFileAtomic(files(entry).jpg, jpeg);
        await writeFileAtomic(files(entry).json, JSON.stringify(entry));
      })();
      writes.set(entry.seq, written);
      try {
        await written;
      } catch (err) {
        take(entry);
        throw err;
      } finally {
        writes.delete(entry.seq);
        held.delete(entry.seq);
      }
      return evicted;
    },
    peek: () => entries[0],
    read: async (e) => held.get(e.seq) ?? readFile(files(e).jpg),
    remove: removeEntry,
  };
}
