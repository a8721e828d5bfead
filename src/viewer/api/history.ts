import { snapshotDayPath } from '../../cloud/handler.js';
import type { Bucket, ListedObject } from './bucket.js';
import { imageRef, type ImageRef } from './fleet.js';
import { parseEventPictureKey, parseSnapshotKey } from './keys.js';
import type { EventImageRef } from './types.js';

/**
 * A camera's history, newest first, a page at a time. S3 lists keys in ascending order only, and keys
 * are `{thing}/yyyy/mm/dd/{time-sortable id}.jpg`, so a page walks day prefixes backwards from the
 * cursor's day (ListObjectsV2 by prefix, one day at a time) down to the camera's oldest day, which one
 * `MaxKeys=1` listing of the whole prefix gives. Event snapshots (`{thing}/events/yyyy/mm/dd/...`)
 * are walked the same way under their own prefix.
 */

export const MAX_HISTORY_PAGE = 100;

export interface HistoryPage<T = ImageRef> {
  items: T[];
  /** Pass as `before` for the next (older) page; null when there is none. */
  next: string | null;
}

/** Where a kind of picture lives: its prefix (ending in `/`) and the UTC day of each of its keys. */
interface KeyLayout {
  prefix: string;
  dayOf(key: string): string | undefined;
}

async function listDay(bucket: Bucket, prefix: string): Promise<ListedObject[]> {
  const all: ListedObject[] = [];
  let next: string | undefined;
  do {
    const page = await bucket.list({ prefix, maxKeys: 1000, ...(next !== undefined ? { continuation: next } : {}) });
    all.push(...page.objects);
    next = page.next;
  } while (next !== undefined);
  return all;
}

/** Up to limit + 1 keys of the layout, newest first, older than `before` (a key of the layout). */
async function newestFirst(bucket: Bucket, layout: KeyLayout, opts: { before: string | undefined; limit: number; now: Date }): Promise<ListedObject[]> {
  const cursorDay = opts.before !== undefined ? layout.dayOf(opts.before) : undefined;
  const oldest = (await bucket.list({ prefix: layout.prefix, maxKeys: 1 })).objects[0];
  const oldestDay = oldest ? layout.dayOf(oldest.key) : undefined;
  const found: ListedObject[] = [];
  if (oldestDay === undefined) return found;
  let day = cursorDay ? new Date(`${cursorDay}T00:00:00Z`) : new Date(Date.UTC(opts.now.getUTCFullYear(), opts.now.getUTCMonth(), opts.now.getUTCDate()));
  // A clock ahead of the newest key is harmless: days with nothing just list empty.
  while (found.length <= opts.limit && day.toISOString().slice(0, 10) >= oldestDay) {
    const objects = (await listDay(bucket, `${layout.prefix}${snapshotDayPath(day)}/`))
      .filter((o) => layout.dayOf(o.key) !== undefined && (opts.before === undefined || o.key < opts.before))
      .reverse();
    found.push(...objects);
    day = new Date(day.getTime() - 24 * 3600 * 1000);
  }
  return found;
}

function page<T>(found: ListedObject[], limit: number, items: T[]): HistoryPage<T> {
  return { items, next: found.length > limit ? found[limit - 1]!.key : null };
}

export async function history(
  bucket: Bucket,
  opts: { thing: string; before?: string; limit: number; now: Date; presignSeconds: number },
): Promise<HistoryPage> {
  const { thing, limit } = opts;
  if (opts.before !== undefined && parseSnapshotKey(opts.before)?.thing !== thing) throw new RangeError(`before must be a snapshot key of ${thing}`);
  const found = await newestFirst(bucket, { prefix: `${thing}/`, dayOf: (key) => parseSnapshotKey(key)?.day }, { before: opts.before, limit, now: opts.now });
  const items = await Promise.all(found.slice(0, limit).map((o) => imageRef(bucket, o.key, o.bytes, opts.presignSeconds)));
  return page(found, limit, items);
}

/** A camera's event snapshots, newest first, each with its trigger and frame (read from its key). */
export async function eventHistory(
  bucket: Bucket,
  opts: { thing: string; before: string | undefined; limit: number; now: Date; presignSeconds: number },
): Promise<HistoryPage<EventImageRef>> {
  const { thing, limit } = opts;
  if (opts.before !== undefined && parseEventPictureKey(opts.before)?.thing !== thing) throw new RangeError(`before must be an event snapshot key of ${thing}`);
  const layout = { prefix: `${thing}/events/`, dayOf: (key: string) => (parseEventPictureKey(key)?.thing === thing ? parseEventPictureKey(key)?.day : undefined) };
  const found = await newestFirst(bucket, layout, { before: opts.before, limit, now: opts.now });
  const items = await Promise.all(
    found.slice(0, limit).map(async (o) => {
      const parts = parseEventPictureKey(o.key)!;
      const ref = await imageRef(bucket, o.key, o.bytes, opts.presignSeconds);
      return { ...ref, at: parts.at.toISOString(), trigger: parts.trigger, frame: parts.frame };
    }),
  );
  return page(found, limit, items);
}
