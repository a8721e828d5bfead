/**
 * The release bucket: where an operator uploads an update package before creating the job that
 * points at it with a presigned-URL placeholder (the Jobs service turns it into a presigned GET at
 * delivery). devcloud: its S3 stand-in's release bucket; AWS: the stack's ReleaseBucket.
 */
import { presignedUrlPlaceholder } from '../protocol/presigned-url-placeholder.js';

export interface UploadedRelease {
  bucket: string;
  key: string;
  /** `${aws:iot:s3-presigned-url:https://s3.amazonaws.com/BUCKET/KEY}`, for the job document. */
  placeholder: string;
}

export type ReleaseTarget = { devcloudDir: string } | { bucket: string; region?: string };

/** Uploads `body` as `key` to the release bucket of a running devcloud or of AWS. */
export async function uploadRelease(target: ReleaseTarget, key: string, body: Buffer, contentType = 'application/octet-stream'): Promise<UploadedRelease> {
  if (key === '' || key.length > 1024 || key.startsWith('/')) throw new Error(`release key ${JSON.stringify(key)} is invalid: use a relative path of 1-1024 characters`);
  const { createS3Client } = await import('./handler.js');
  if ('devcloudDir' in target) {
    const { readDevcloudInfo } = await import('../devcloud/info.js');
    const { createBucket } = await import('../viewer/api/bucket.js');
    const info = await readDevcloudInfo(target.devcloudDir);
    const s3 = createS3Client({ region: info.s3.region, credentials: { accessKeyId: info.s3.accessKeyId, secretAccessKey: info.s3.secretAccessKey }, s3Endpoint: info.s3.url });
    try {
      await createBucket(s3, info.s3.releaseBucket).write(key, body, contentType);
    } finally {
      s3.destroy();
    }
    return { bucket: info.s3.releaseBucket, key, placeholder: presignedUrlPlaceholder(info.s3.releaseBucket, key) };
  }
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  const s3 = createS3Client({ region: target.region ?? process.env.AWS_REGION ?? 'us-east-1' });
  try {
    await s3.send(new PutObjectCommand({ Bucket: target.bucket, Key: key, Body: body, ContentType: contentType, ContentLength: body.length }));
  } finally {
    s3.destroy();
  }
  return { bucket: target.bucket, key, placeholder: presignedUrlPlaceholder(target.bucket, key) };
}
