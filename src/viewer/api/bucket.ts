import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { uploadPresignedPost } from '../../protocol/s3-post.js';

/**
 * The bucket as the viewer uses it: list by prefix, presign a GET, read an object, write an object.
 * Writes go through a presigned POST (like the camera's uploads) rather than PutObject: devcloud's S3
 * stand-in implements the POST path strictly, and one write path means the same code runs in both.
 */

export interface ListedObject {
  key: string;
  bytes: number;
  lastModified?: Date;
}

export interface ListPage {
  objects: ListedObject[];
  next?: string;
}

export interface Bucket {
  readonly name: string;
  list(opts: { prefix: string; startAfter?: string; continuation?: string; maxKeys: number }): Promise<ListPage>;
  /** A GET URL valid for `seconds`; it carries a signature: hand it to the browser, never log it. */
  presignGet(key: string, seconds: number, downloadName?: string): Promise<string>;
  read(key: string): Promise<Buffer>;
  write(key: string, body: Buffer, contentType: string): Promise<void>;
}

export function createBucket(s3: S3Client, name: string): Bucket {
  return {
    name,
    async list({ prefix, startAfter, continuation, maxKeys }) {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: name,
          Prefix: prefix,
          MaxKeys: maxKeys,
          ...(continuation !== undefined ? { ContinuationToken: continuation } : startAfter !== undefined ? { StartAfter: startAfter } : {}),
        }),
      );
      const objects = (page.Contents ?? []).flatMap((o) =>
        o.Key === undefined ? [] : [{ key: o.Key, bytes: o.Size ?? 0, ...(o.LastModified ? { lastModified: o.LastModified } : {}) }],
      );
      return page.IsTruncated && page.NextContinuationToken ? { objects, next: page.NextContinuationToken } : { objects };
    },
    presignGet(key, seconds, downloadName) {
      const command = new GetObjectCommand({
        Bucket: name,
        Key: key,
        ...(downloadName !== undefined ? { ResponseContentDisposition: `attachment; filename="${downloadName.replace(/[^A-Za-z0-9_.-]/g, '_')}"` } : {}),
      });
      return getSignedUrl(s3, command, { expiresIn: seconds });
    },
    async read(key) {
      const out = await s3.send(new GetObjectCommand({ Bucket: name, Key: key }));
      if (!out.Body) throw new Error(`s3://${name}/${key} has no body`);
      return Buffer.from(await out.Body.transformToByteArray());
    },
    async write(key, body, contentType) {
      const post = await createPresignedPost(s3, {
        Bucket: name,
        Key: key,
        Conditions: [['content-length-range', 0, Math.max(1, body.length)], ['eq', '$Content-Type', contentType]],
        Fields: { 'Content-Type': contentType },
        Expires: 60,
      });
      await uploadPresignedPost(post, body, { contentType, timeoutMs: 15_000 });
    },
  };
}
