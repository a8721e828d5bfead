import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { S3Error, errors, xmlEscape } from './errors.js';
import type { StoredFile } from './object-files.js';
import type { QueryParam } from './sigv4.js';

/**
 * ListObjectsV2 over the stand-in's files: `GET /{bucket}?list-type=2` with prefix, max-keys,
 * continuation-token, start-after and encoding-type [ListObjectsV2]. Keys are listed in UTF-8 binary
 * order, as S3 lists them. `delimiter` (folders) is not implemented and is refused by name.
 */

const MAX_KEYS = 1000;

export interface ListedObject {
  key: string;
  size: number;
  lastModified: Date;
  etag: string;
}

export interface ListOptions {
  bucket: string;
  /** Every object of the bucket (ObjectFiles.list()). */
  objects: StoredFile[];
  query: QueryParam[];
  /** The ETag recorded at upload, when known; otherwise the object is hashed. */
  knownEtag: (key: string) => string | undefined;
}

const byUtf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** The continuation token is opaque to clients; ours is the last key returned, base64url'd. */
function encodeToken(lastKey: string): string {
  return Buffer.from(`v1:${lastKey}`, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  if (!text.startsWith('v1:') || Buffer.from(text, 'utf8').toString('base64url') !== token) {
    throw errors.invalidArgument('The continuation token provided is incorrect', 'continuation-token');
  }
  return text.slice(3);
}

function parseMaxKeys(value: string | undefined): number {
  if (value === undefined) return MAX_KEYS;
  if (!/^\d+$/.test(value)) throw errors.invalidArgument('Provided max-keys not an integer or within integer range', 'max-keys');
  return Math.min(Number(value), MAX_KEYS);
}

export async function listObjectsV2(opts: ListOptions): Promise<string> {
  const get = (name: string): string | undefined => opts.query.find((p) => p.name === name)?.value;
  if (get('delimiter') !== undefined) {
    throw new S3Error(501, 'NotImplemented', 'The devcloud S3 stand-in does not implement the delimiter parameter of ListObjectsV2; list with a prefix instead.');
  }
  const encodingType = get('encoding-type');
  if (encodingType !== undefined && encodingType !== 'url') {
    throw errors.invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type');
  }
  const prefix = get('prefix') ?? '';
  const maxKeys = parseMaxKeys(get('max-keys'));
  const token = get('continuation-token');
  const startAfter = get('start-after');
  const after = token !== undefined ? decodeToken(token) : startAfter;

  const matching = opts.objects
    .filter(({ key: k }) => k.startsWith(prefix) && (after === undefined || byUtf8(k, after) > 0))
    .sort((a, b) => byUtf8(a.key, b.key));
  const page = matching.slice(0, maxKeys);
  const truncated = matching.length > page.length;
  const objects: ListedObject[] = [];
  for (const { key, path: file } of page) {
    const info = await stat(file);
    const etag = opts.knownEtag(key) ?? `"${createHash('md5').update(await readFile(file)).digest('hex')}"`;
    objects.push({ key, size: info.size, lastModified: info.mtime, etag });
  }

  const enc = (s: string): string => xmlEscape(encodingType === 'url' ? encodeURIComponent(s).replace(/%2F/g, '/') : s);
  const contents = objects
    .map(
      (o) =>
        `<Contents><Key>${enc(o.key)}</Key><LastModified>${o.lastModified.toISOString()}</LastModified>` +
        `<ETag>${xmlEscape(o.etag)}</ETag><Size>${o.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    )
    .join('');
  const last = page[page.length - 1]?.key;
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Name>${xmlEscape(opts.bucket)}</Name><Prefix>${enc(prefix)}</Prefix><KeyCount>${objects.length}</KeyCount>` +
    `<MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>` +
    (encodingType === 'url' ? '<EncodingType>url</EncodingType>' : '') +
    (token !== undefined ? `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>` : '') +
    (truncated && last !== undefined ? `<NextContinuationToken>${encodeToken(last)}</NextContinuationToken>` : '') +
    (startAfter !== undefined ? `<StartAfter>${enc(startAfter)}</StartAfter>` : '') +
    contents +
    '</ListBucketResult>'
  );
}
