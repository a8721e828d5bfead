import type { Bucket } from './bucket.js';
import { parseSnapshotKey, requestedAt, thumbnailKey } from './keys.js';
import type { ImageRef } from './types.js';

/** A picture as the API hands it out: presigned image, thumbnail and download URLs, and when it was requested. */
export async function imageRef(bucket: Bucket, key: string, bytes: number, presignSeconds: number): Promise<ImageRef> {
  const parts = parseSnapshotKey(key);
  const at = parts ? requestedAt(parts.id) : undefined;
  const [imageUrl, thumbnailUrl, downloadUrl] = await Promise.all([
    bucket.presignGet(key, presignSeconds),
    bucket.presignGet(thumbnailKey(key), presignSeconds),
    bucket.presignGet(key, presignSeconds, key.replaceAll('/', '_')),
  ]);
  return { key, at: at?.toISOString() ?? null, bytes, imageUrl, thumbnailUrl, downloadUrl };
}
