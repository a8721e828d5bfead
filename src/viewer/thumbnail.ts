import sharp from 'sharp';
import type { Bucket } from './api/bucket.js';
import { isPictureKey, thumbnailKey } from './api/keys.js';

/**
 * The thumbnail handler: on an S3 ObjectCreated notification for a snapshot, writes a 320 px wide
 * JPEG of at most 30 KB under `thumbnails/`. The same code is the Lambda (S3 event notification) and
 * devcloud's hook on its S3 stand-in, which emits the same event document (objectCreatedEvent).
 * Keys that are not snapshots (its own thumbnails among them) are skipped, so the handler can never
 * trigger itself in a loop even if the notification has no prefix filter.
 */

export const THUMBNAIL_WIDTH = 320;
export const MAX_THUMBNAIL_BYTES = 30 * 1024;
/** Snapshots above this are not decoded (a camera's JPEG is a few MB at most; the POST policy caps 5 MB). */
const MAX_SOURCE_BYTES = 50 * 1024 * 1024;

/** One record of an S3 event notification (event structure version 2.1); only what is read is required. */
export interface S3EventRecord {
  eventVersion: string;
  eventSource: 'aws:s3';
  awsRegion: string;
  eventTime: string;
  eventName: string;
  s3: {
    s3SchemaVersion: '1.0';
    configurationId?: string;
    bucket: { name: string; arn: string };
    object: { key: string; size: number; eTag?: string; sequencer?: string };
  };
}

export interface S3EventNotification {
  Records: S3EventRecord[];
}

/** S3 puts keys into notifications URL-encoded, spaces as `+` (the documented form). */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

export function decodeEventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/** The notification document S3 sends for an object stored by a POST (devcloud emits it). */
export function objectCreatedEvent(o: { bucket: string; key: string; size: number; etag?: string; region: string; at?: Date }): S3EventNotification {
  const at = o.at ?? new Date();
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: o.region,
        eventTime: at.toISOString(),
        eventName: 'ObjectCreated:Post',
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'cloudcam-thumbnails',
          bucket: { name: o.bucket, arn: `arn:aws:s3:::${o.bucket}` },
          object: {
            key: encodeEventKey(o.key),
            size: o.size,
            ...(o.etag !== undefined ? { eTag: o.etag } : {}),
            sequencer: at.getTime().toString(16).toUpperCase().padStart(16, '0'),
          },
        },
      },
    ],
  };
}

/** A JPEG `THUMBNAIL_WIDTH` wide (never enlarged) of at most MAX_THUMBNAIL_BYTES: lower quality until it fits. */
export async function makeThumbnail(jpeg: Buffer): Promise<Buffer> {
  const resized = sharp(jpeg, { limitInputPixels: 50_000_000 }).rotate().resize({ width: THUMBNAIL_WIDTH, withoutEnlargement: true });
  for (const quality of [75, 60, 45, 30, 20]) {
    const out = await resized.clone().jpeg({ quality, mozjpeg: true }).toBuffer();
    if (out.length <= MAX_THUMBNAIL_BYTES) return out;
  }
  throw new Error(`cannot make a thumbnail under ${MAX_THUMBNAIL_BYTES} bytes`);
}

export type ThumbnailOutcome = { key: string; thumbnail: string; bytes: number } | { key: string; skipped: string };

export async function handleThumbnailEvent(event: S3EventNotification, bucketNamed: (name: string) => Bucket | undefined): Promise<ThumbnailOutcome[]> {
  const outcomes: ThumbnailOutcome[] = [];
  for (const record of event.Records ?? []) {
    const key = decodeEventKey(record.s3.object.key);
    if (!record.eventName.startsWith('ObjectCreated:')) {
      outcomes.push({ key, skipped: `event ${record.eventName}` });
      continue;
    }
    if (!isPictureKey(key)) {
      outcomes.push({ key, skipped: 'not a snapshot key' });
      continue;
    }
    if (record.s3.object.size > MAX_SOURCE_BYTES) {
      outcomes.push({ key, skipped: `object of ${record.s3.object.size} bytes is too large` });
      continue;
    }
    const bucket = bucketNamed(record.s3.bucket.name);
    if (!bucket) {
      outcomes.push({ key, skipped: `bucket ${record.s3.bucket.name} is not this handler's` });
      continue;
    }
    const thumb = await makeThumbnail(await bucket.read(key));
    const target = thumbnailKey(key);
    await bucket.write(target, thumb, 'image/jpeg');
    outcomes.push({ key, thumbnail: target, bytes: thumb.length });
  }
  return outcomes;
}
