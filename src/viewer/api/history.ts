import { snapshotDayPath } from '../../cloud/handler.js';
import type { Bucket, ListedObject } from './bucket.js';
import { imageRef, type ImageRef } from './fleet.js';
import { parseSnapshotKey } from './keys.js';

/**
 * A camera's history, newest first, a page at a time. S3 lists keys in ascending order only, and keys
 * are `{thing}/yyyy/mm/dd/{time-sortable id}.jpg`, so a page walks day prefixes backwards from the
 * cursor's day (ListObjectsV2 by prefix, one day at a time) down to the camera's oldest day, which one
 * `MaxKeys=1` listing of the whole prefix gives.
 */

export const MAX_HISTORY_PAGE = 100;

export interface HistoryPage {
  items: ImageRef[];
  /** Pass as `before` for the next (older) page; null when there is none. */
  next: string | null;
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

export async function history(
  bucket: Bucket,
  opts: { thing: string; before?: string; limit: number; now: Date; presignSeconds: number },
): Promise<HistoryPage> {
  const { thing, limit } = opts;
  const cursor = opts.before !== undefined ? parseSnapshotKey(opts.before) : undefined;
  if (opts.before !== undefined && cursor?.thing !== thing) throw new RangeError(`before must be a snapshot key of ${thing}`);
  const oldest = (await bucket.list({ prefix: `${thing}/`, maxKeys: 1 })).objects[0];
  const oldestDay = oldest ? parseSnapshotKey(oldest.key)?.day : undefined;
  const found: ListedObject[] = [];
  if (oldestDay !== undefined) {
    let day = cursor ? new Date(`${cursor.day}T00:00:00Z`) : new Date(Date.UTC(opts.now.getUTCFullYear(), opts.now.getUTCMonth(), opts.now.getUTCDate()));
    // A clock ahead of the newest key is harmless: days with nothing just list empty.
    while (found.length <= limit && day.toISOString().slice(0, 10) >= oldestDay) {
      const objects = (await listDay(bucket, `${thing}/${snapshotDayPath(day)}/`))
        .filter((o) => parseSnapshotKey(o.key) && (opts.before === undefined || o.key < opts.before))
        .reverse();
      found.push(...objects);
      day = new Date(day.getTime() - 24 * 3600 * 1000);
    }
  }
  const page = found.slice(0, limit);
  const items = await Promise.all(page.map((o) => imageRef(bucket, o.key, o.bytes, opts.presignSeconds)));
  return { items, next: found.length > limit ? page[page.length - 1]!.key : null };
}
