import { GetObjectCommand, ListObjectsV2Command, type S3Client, type _Object } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertThingName } from '../protocol/topics.js';
import { eventKeyPrefix, parseEventKey } from '../protocol/upload-grant.js';
import { snapshotDayPath } from './handler.js';

/**
 * The operator's "show me the newest snapshot": finds the newest object under a thing's prefix with
 * ListObjectsV2 and presigns a GET for it. Keys are `{thing}/{yyyy}/{mm}/{dd}/{time-sortable id}.jpg`
 * (handler.ts), so the newest snapshot is the greatest key, and S3 lists keys in ascending order.
 * Event pictures live under `{thing}/events/` (docs/protocol.md §8), which sorts after every dated
 * key ('e' > '9'): they are left out unless asked for (`events: true`), and then only they are
 * searched, each event's own picture (not its `.pre.jpg` pre-event frame).
 */

export interface LatestSnapshot {
  key: string;
  bytes: number;
  lastModified?: Date;
  /** Presigned GET URL; it carries a signature, so it is printed for the operator and never logged. */
  url: string;
  expiresInSeconds: number;
}

/**
 * The greatest key that `wanted` accepts, listed under prefix (after startAfter), paging until the
 * listing reaches `stopAt` (keys come in ascending order, so nothing wanted follows it).
 */
async function greatestKey(
  s3: S3Client,
  list: { bucket: string; prefix: string; wanted: (key: string) => boolean; stopAt?: string },
  startAfter?: string,
): Promise<_Object | undefined> {
  const { bucket, prefix } = list;
  let best: _Object | undefined;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token !== undefined ? { ContinuationToken: token } : startAfter !== undefined ? { StartAfter: startAfter } : {}),
      }),
    );
    let passed = false;
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined) continue;
      if (list.stopAt !== undefined && o.Key >= list.stopAt) {
        passed = true;
        break;
      }
      if (list.wanted(o.Key) && (best?.Key === undefined || o.Key > best.Key)) best = o;
    }
    token = page.IsTruncated && !passed ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return best;
}

export async function findLatestSnapshot(
  s3: S3Client,
  opts: { bucket: string; thing: string; expiresInSeconds: number; now?: Date; /** Event pictures instead of requested snapshots. */ events?: boolean },
): Promise<LatestSnapshot | undefined> {
  assertThingName(opts.thing);
  const events = eventKeyPrefix(opts.thing);
  const prefix = opts.events ? events : `${opts.thing}/`;
  const list = opts.events
    ? { bucket: opts.bucket, prefix, wanted: (key: string) => parseEventKey(key)?.frame === 'event' }
    : { bucket: opts.bucket, prefix, wanted: (key: string) => key.endsWith('.jpg'), stopAt: events };
  const now = opts.now ?? new Date();
  // Most calls want a snapshot from today: list from yesterday on first (a page or two), and only
  // when that is empty walk the whole prefix, which for a busy camera is many pages.
  const recentStart = `${prefix}${snapshotDayPath(new Date(now.getTime() - 24 * 3600 * 1000))}`;
  const newest = (await greatestKey(s3, list, recentStart)) ?? (await greatestKey(s3, list));
  if (newest?.Key === undefined) return undefined;
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: opts.bucket, Key: newest.Key }), { expiresIn: opts.expiresInSeconds });
  return {
    key: newest.Key,
    bytes: newest.Size ?? 0,
    ...(newest.LastModified ? { lastModified: newest.LastModified } : {}),
    url,
    expiresInSeconds: opts.expiresInSeconds,
  };
}
