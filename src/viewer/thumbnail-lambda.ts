import { createS3Client } from '../cloud/handler.js';
import { createBucket } from './api/bucket.js';
import { handleThumbnailEvent, type S3EventNotification, type ThumbnailOutcome } from './thumbnail.js';

/** The thumbnail Lambda, invoked by the snapshot bucket's ObjectCreated notification (infra/viewer.ts). */
export async function handler(event: S3EventNotification): Promise<ThumbnailOutcome[]> {
  const bucketName = process.env['CLOUDCAM_BUCKET'];
  if (!bucketName) throw new Error('CLOUDCAM_BUCKET is not set: name the snapshot bucket');
  const s3 = createS3Client({ region: process.env['AWS_REGION'] ?? 'us-east-1' });
  const bucket = createBucket(s3, bucketName);
  const outcomes = await handleThumbnailEvent(event, (name) => (name === bucketName ? bucket : undefined));
  for (const o of outcomes) console.log(JSON.stringify(o));
  return outcomes;
}
