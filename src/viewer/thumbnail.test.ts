import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Bucket } from './api/bucket.js';
import { decodeEventKey, encodeEventKey, handleThumbnailEvent, makeThumbnail, objectCreatedEvent, MAX_THUMBNAIL_BYTES, THUMBNAIL_WIDTH } from './thumbnail.js';

/** A JPEG full of noise: the hardest case for the 30 KB budget. */
async function noisyJpeg(width: number, height: number): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
}

/** A bucket in memory: the handler's reads and writes, recorded. */
function memoryBucket(objects: Map<string, Buffer>): Bucket {
  return {
    name: 'b',
    list: async () => ({ objects: [] }),
    presignGet: async (key) => `http://s3/${key}`,
    read: async (key) => objects.get(key) ?? Promise.reject(new Error(`no ${key}`)),
    write: async (key, body) => void objects.set(key, body),
  };
}

describe('thumbnails', () => {
  it('are 320 px wide and at most 30 KB even for a noisy 1920x1080 picture', async () => {
    const thumb = await makeThumbnail(await noisyJpeg(1920, 1080));
    const meta = await sharp(thumb).metadata();
    expect(meta.format).toBe('jpeg');
    expect(meta.width).toBe(THUMBNAIL_WIDTH);
    expect(meta.height).toBe(180);
    expect(thumb.length).toBeLessThanOrEqual(MAX_THUMBNAIL_BYTES);
  });

  it('never enlarge a small picture', async () => {
    expect((await sharp(await makeThumbnail(await noisyJpeg(200, 100))).metadata()).width).toBe(200);
  });

  it('the event document has S3\'s shape, with the key URL-encoded (spaces as +)', () => {
    const event = objectCreatedEvent({ bucket: 'b', key: 'camera-1/2026/12/01/a b+c.jpg', size: 10, region: 'us-east-1', at: new Date(0) });
    const record = event.Records[0]!;
    expect(record).toMatchObject({ eventVersion: '2.1', eventSource: 'aws:s3', eventName: 'ObjectCreated:Post', s3: { s3SchemaVersion: '1.0', bucket: { name: 'b', arn: 'arn:aws:s3:::b' } } });
    expect(record.s3.object.key).toBe('camera-1/2026/12/01/a+b%2Bc.jpg');
    expect(decodeEventKey(encodeEventKey('x y/z+w.jpg'))).toBe('x y/z+w.jpg');
  });

  it('are made for snapshot keys only: never for thumbnails (no loop), revocations or other buckets', async () => {
    const key = 'camera-1/2026/12/01/20261201T043000123Z-ab12cd34.jpg';
    const objects = new Map([[key, await noisyJpeg(640, 360)]]);
    const bucket = memoryBucket(objects);
    const event = (k: string, b = 'b') => objectCreatedEvent({ bucket: b, key: k, size: 1, region: 'us-east-1' });
    expect(await handleThumbnailEvent(event(key), (n) => (n === 'b' ? bucket : undefined))).toEqual([{ key, thumbnail: `thumbnails/${key}`, bytes: objects.get(`thumbnails/${key}`)!.length }]);
    for (const k of [`thumbnails/${key}`, 'viewer/revoked/0123', 'camera-1/notes.txt']) {
      expect(await handleThumbnailEvent(event(k), () => bucket)).toEqual([{ key: k, skipped: 'not a snapshot key' }]);
    }
    expect(await handleThumbnailEvent(event(key, 'other'), (n) => (n === 'b' ? bucket : undefined))).toEqual([{ key, skipped: 'bucket other is not this handler\'s' }]);
    expect([...objects.keys()].sort()).toEqual([key, `thumbnails/${key}`]);
  });
});
