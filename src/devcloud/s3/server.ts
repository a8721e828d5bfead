import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Logger } from '../../lib/log.js';
import { S3Error, errorXml, errors, xmlEscape } from './errors.js';
import { listObjectsV2 } from './list.js';
import { ObjectFiles } from './object-files.js';
import { formBoundary, parseMultipart, type FileSink, type PartInfo } from './multipart.js';
import { checkPolicy, decodePolicy, type FormField, type PolicyLimits } from './policy.js';
import {
  ALGORITHM,
  parseAmzDate,
  parseCredential,
  postPolicySignature,
  parseQuery,
  signaturesEqual,
  verifyHeaderSignedRequest,
  verifyPresignedRequest,
  type PresignedRequest,
  type S3Credentials,
} from './sigv4.js';

export type { S3Credentials } from './sigv4.js';

export interface S3StoredObject {
  bucket: string;
  key: string;
  size: number;
  path: string;
  contentType: string;
  /** User metadata from the form's `x-amz-meta-*` fields, names lower-cased, as S3 stores them. */
  metadata: Record<string, string>;
}

export interface S3Faults {
  /** Answer the next `count` POSTs with this status and S3 error (500 InternalError, 503 SlowDown). */
  failNext?: { status: 500 | 503; count: number };
  /** Delay before answering any request. */
  delayMs?: number;
}

export interface S3RequestEvent {
  method: string;
  /** Path only: the query of a presigned GET carries its signature and is never reported. */
  path: string;
  status: number;
  code?: string;
}

export interface S3StandIn {
  readonly url: string;
  readonly port: number;
  /** 'object' (S3StoredObject) after an object is stored; 'request' (S3RequestEvent) after each answer. */
  readonly events: EventEmitter;
  setFaults(f: S3Faults): void;
  /** `lists`: ListObjectsV2 requests answered (what a bounded listing is measured by). */
  readonly stats: { posts: number; stored: number; rejected: number; connections: number; lists: number };
  stop(): Promise<void>;
}

export interface StartS3Options {
  /** Objects land at rootDir/{bucket}/{key}, or under rootDir/.keys/{bucket}/ for keys that cannot be paths (object-files.ts). */
  rootDir: string;
  buckets: string[];
  credentials: S3Credentials[];
  region?: string;
  host?: string;
  port?: number;
  /** Largest POST body accepted (Content-Length); default 64 MiB. */
  maxBodyBytes?: number;
  log?: Logger;
  /** Clock for policy and URL expiry, so tests need no sleeps. */
  now?: () => number;
}

const DEFAULT_MAX_BODY = 64 * 1024 * 1024;
/** S3's limit on the form data before the file (HTML form docs: "cannot exceed 20 KB"). */
const MAX_PRE_DATA = 20 * 1024;
const MAX_KEY_BYTES = 1024;
const TMP_DIR = '.tmp-uploads';
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';
/** The fields S3 requires for a SigV4 POST (lower-cased) and how its errors spell them. */
const REQUIRED_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ['policy', 'Policy'],
  ['x-amz-algorithm', 'X-Amz-Algorithm'],
  ['x-amz-credential', 'X-Amz-Credential'],
  ['x-amz-date', 'X-Amz-Date'],
  ['x-amz-signature', 'X-Amz-Signature'],
];

/** Form fields (and GET response headers) that carry user metadata. */
const META_PREFIX = 'x-amz-meta-';

interface PostPlan {
  bucket: string;
  key: string;
  limits: PolicyLimits;
  contentType: string;
  metadata: Record<string, string>;
  successStatus: 200 | 201 | 204;
  contentMd5?: string;
}

function validateOptions(opts: StartS3Options): void {
  if (!opts.rootDir) throw new Error('startS3: rootDir is required (objects are written under it).');
  if (opts.buckets.length === 0) throw new Error('startS3: give at least one bucket name in `buckets`.');
  for (const b of opts.buckets) {
    if (!BUCKET_NAME.test(b) || b.includes('..')) {
      throw new Error(
        `startS3: bucket name "${b}" is not a valid S3 bucket name (3-63 characters: lowercase letters, digits, dots, hyphens).`,
      );
    }
  }
  for (const c of opts.credentials) {
    if (!c.accessKeyId || !c.secretAccessKey) {
      throw new Error('startS3: every credential needs a non-empty accessKeyId and secretAccessKey.');
    }
  }
}

/** S3's own limits on a key: 1 to 1024 bytes of UTF-8. Anything else is a valid key (object-files.ts stores it). */
function checkKey(key: string): void {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) throw errors.keyTooLong(bytes);
  if (key === '') throw errors.invalidArgument('The object key must not be empty.', 'key');
}

/** Splits `/bucket/key...` into decoded parts; the key keeps its slashes. */
function splitPath(rawPath: string): { bucket: string; key: string } {
  const rest = rawPath.replace(/^\/+/, '');
  const slash = rest.indexOf('/');
  const rawBucket = slash === -1 ? rest : rest.slice(0, slash);
  const rawKey = slash === -1 ? '' : rest.slice(slash + 1);
  try {
    return { bucket: decodeURIComponent(rawBucket), key: decodeURIComponent(rawKey) };
  } catch {
    throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.");
  }
}

/** A file sink that writes to a temp file while hashing, and refuses bytes past the policy's maximum. */
class TempFileSink implements FileSink {
  readonly md5 = createHash('md5');
  size = 0;
  private readonly stream: WriteStream;
  private readonly ready: Promise<void>;

  constructor(
    readonly tmpPath: string,
    private readonly maxBytes: number,
  ) {
    this.stream = createWriteStream(tmpPath, { flags: 'wx', mode: 0o644 });
    this.ready = once(this.stream, 'open').then(() => undefined);
    // Errors surface through write()/end(); this keeps an early one from being unhandled.
    this.stream.on('error', () => undefined);
  }

  async write(chunk: Buffer): Promise<void> {
    this.size += chunk.length;
    // Past the maximum we only count, so ProposedSize is exact without filling the disk.
    if (this.size > this.maxBytes) return;
    this.md5.update(chunk);
    await this.ready;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  async end(): Promise<void> {
    await this.ready;
    await new Promise<void>((resolve, reject) => {
      this.stream.once('error', reject);
      this.stream.end(() => resolve());
    });
  }

  async discard(): Promise<void> {
    this.stream.destroy();
    await rm(this.tmpPath, { force: true });
  }
}

/** Reads the request without letting an early `throw` destroy the socket before we answer. */
function bodyOf(req: IncomingMessage): AsyncIterable<Buffer> {
  return { [Symbol.asyncIterator]: () => req.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer> };
}

async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  req.resume();
  await Promise.race([once(req, 'end'), once(req, 'close')]).catch(() => undefined);
}

export async function startS3(opts: StartS3Options): Promise<S3StandIn> {
  validateOptions(opts);
  const rootDir = path.resolve(opts.rootDir);
  const region = opts.region ?? 'us-east-1';
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const now = opts.now ?? Date.now;
  const log = opts.log ?? createLogger({ name: 'devcloud-s3', level: 'silent' });
  const buckets = new Set(opts.buckets);
  const credentials = new Map(opts.credentials.map((c) => [c.accessKeyId, c]));
  const events = new EventEmitter();
  const stats = { posts: 0, stored: 0, rejected: 0, connections: 0, lists: 0 };
  const contentTypes = new Map<string, { contentType: string; etag: string; metadata: Record<string, string> }>();
  const stopping = new AbortController();
  let faults: S3Faults = {};
  let url = '';

  await mkdir(path.join(rootDir, TMP_DIR), { recursive: true });
  const objectFiles = new Map(opts.buckets.map((b) => [b, new ObjectFiles(rootDir, b)]));
  for (const files of objectFiles.values()) await files.init();
  const filesOf = (bucket: string): ObjectFiles => {
    const files = objectFiles.get(bucket);
    if (!files) throw errors.noSuchBucket(bucket);
    return files;
  };

  /** Authenticates the form and checks its policy; runs when the file part starts. */
  function plan(bucket: string, fields: FormField[], file: PartInfo | undefined): PostPlan {
    const field = (name: string): string | undefined => fields.find((f) => f.name.toLowerCase() === name)?.value;
    for (const [name, spelled] of REQUIRED_FIELDS) {
      if (field(name) === undefined) throw errors.missingField(spelled);
    }
    const policyB64 = field('policy') ?? '';
    const algorithm = field('x-amz-algorithm') ?? '';
    const amzDate = field('x-amz-date') ?? '';
    if (algorithm !== ALGORITHM) {
      throw errors.invalidArgument(`X-Amz-Algorithm only supports "${ALGORITHM}".`, 'x-amz-algorithm');
    }
    const scope = parseCredential(field('x-amz-credential') ?? '', 'x-amz-credential');
    if (scope.region !== region) throw errors.regionMismatch(scope.region, region);
    if (parseAmzDate(amzDate) === undefined) {
      throw errors.invalidArgument('X-Amz-Date must be in the ISO8601 basic format yyyyMMddTHHmmssZ.', 'x-amz-date');
    }
    if (amzDate.slice(0, 8) !== scope.date) {
      throw errors.invalidArgument(
        `Invalid credential date "${scope.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`,
        'x-amz-credential',
      );
    }
    const cred = credentials.get(scope.accessKeyId);
    if (!cred) throw errors.invalidAccessKeyId(scope.accessKeyId);
    const expected = postPolicySignature(cred.secretAccessKey, scope, policyB64);
    if (!signaturesEqual(expected, field('x-amz-signature') ?? '')) throw errors.signatureDoesNotMatch();
    // Temporary credentials are only valid together with their session token.
    if (cred.sessionToken !== field('x-amz-security-token')) throw errors.invalidToken();

    const policy = decodePolicy(policyB64);
    const rawKey = field('key');
    if (rawKey === undefined) throw errors.missingField('key');
    const key = rawKey.replaceAll('${filename}', file?.filename ?? '');
    const limits = checkPolicy(policy, fields, { bucket, key, now: now() });
    checkKey(key);
    const status = field('success_action_status');
    const contentMd5 = field('content-md5');
    return {
      bucket,
      key,
      limits,
      contentType: field('content-type') ?? DEFAULT_CONTENT_TYPE,
      metadata: Object.fromEntries(fields.filter((f) => f.name.toLowerCase().startsWith(META_PREFIX)).map((f) => [f.name.toLowerCase().slice(META_PREFIX.length), f.value])),
      successStatus: status === '200' ? 200 : status === '201' ? 201 : 204,
      ...(contentMd5 !== undefined ? { contentMd5 } : {}),
    };
  }

  async function handlePost(req: IncomingMessage, bucket: string): Promise<{ status: number; headers: Record<string, string>; body: string; stored?: S3StoredObject }> {
    if (!buckets.has(bucket)) throw errors.noSuchBucket(bucket);
    if (req.headers['content-length'] === undefined) throw errors.missingContentLength();
    if (Number(req.headers['content-length']) > maxBodyBytes) {
      throw errors.entityTooLarge(Number(req.headers['content-length']), maxBodyBytes);
    }
    const boundary = formBoundary(req.headers['content-type']);
    if (!boundary) throw errors.malformedPost('The request Content-Type must be multipart/form-data with a boundary.');

    const fields: FormField[] = [];
    let postPlan: PostPlan | undefined;
    let sink: TempFileSink | undefined;
    try {
      const { fileSeen } = await parseMultipart(bodyOf(req), {
        boundary,
        maxPreDataBytes: MAX_PRE_DATA,
        onField: (f) => {
          if (fields.some((g) => g.name.toLowerCase() === f.name.toLowerCase())) {
            throw errors.invalidArgument(`The form field "${f.name}" appears more than once; send each field once.`, f.name);
          }
          fields.push(f);
        },
        onFileStart: (info) => {
          postPlan = plan(bucket, fields, info);
          const tmp = path.join(rootDir, TMP_DIR, `${randomBytes(12).toString('hex')}.part`);
          sink = new TempFileSink(tmp, postPlan.limits.maxBytes ?? Number.MAX_SAFE_INTEGER);
          return sink;
        },
      });
      if (!fileSeen || !postPlan || !sink) {
        plan(bucket, fields, undefined);
        throw errors.noFile();
      }
      const { limits } = postPlan;
      const fileSink: TempFileSink = sink;
      if (limits.maxBytes !== undefined && fileSink.size > limits.maxBytes) throw errors.entityTooLarge(fileSink.size, limits.maxBytes);
      if (limits.minBytes !== undefined && fileSink.size < limits.minBytes) throw errors.entityTooSmall(fileSink.size, limits.minBytes);
      const md5 = fileSink.md5.digest();
      if (postPlan.contentMd5 !== undefined && postPlan.contentMd5 !== md5.toString('base64')) throw errors.badDigest();
      const storedAt = await filesOf(bucket).put(postPlan.key, fileSink.tmpPath);
      sink = undefined;
      const etag = `"${md5.toString('hex')}"`;
      contentTypes.set(`${bucket}/${postPlan.key}`, { contentType: postPlan.contentType, etag, metadata: postPlan.metadata });
      const location = `${url}/${bucket}/${postPlan.key.split('/').map(encodeURIComponent).join('/')}`;
      const headers = { ETag: etag, Location: location };
      const stored: S3StoredObject = {
        bucket,
        key: postPlan.key,
        size: fileSink.size,
        path: storedAt,
        contentType: postPlan.contentType,
        metadata: postPlan.metadata,
      };
      if (postPlan.successStatus === 201) {
        const body =
          '<?xml version="1.0" encoding="UTF-8"?>\n' +
          `<PostResponse><Location>${xmlEscape(location)}</Location><Bucket>${xmlEscape(bucket)}</Bucket>` +
          `<Key>${xmlEscape(postPlan.key)}</Key><ETag>${xmlEscape(etag)}</ETag></PostResponse>`;
        return { status: 201, headers: { ...headers, 'Content-Type': 'application/xml' }, body, stored };
      }
      return { status: postPlan.successStatus, headers, body: '', stored };
    } finally {
      const leftover: TempFileSink | undefined = sink;
      if (leftover) await leftover.discard();
    }
  }

  async function handleGet(req: IncomingMessage, res: ServerResponse, rawPath: string, rawQuery: string, bucket: string, key: string): Promise<void> {
    if (!buckets.has(bucket)) throw errors.noSuchBucket(bucket);
    authenticate({ method: req.method ?? 'GET', rawPath, rawQuery, headers: req.headers });
    checkKey(key);
    const file = await filesOf(bucket).locate(key);
    const info = file === undefined ? undefined : await stat(file).catch(() => undefined);
    if (file === undefined || !info?.isFile()) throw errors.noSuchKey(key);
    const meta = contentTypes.get(`${bucket}/${key}`);
    // Objects written before this process started have no recorded ETag: hash them on demand.
    const etag = meta?.etag ?? `"${createHash('md5').update(await readFile(file)).digest('hex')}"`;
    await delay();
    report('GET', rawPath, 200);
    res.writeHead(200, {
      'Content-Type': meta?.contentType ?? DEFAULT_CONTENT_TYPE,
      'Content-Length': String(info.size),
      ETag: etag,
      'Last-Modified': info.mtime.toUTCString(),
      ...Object.fromEntries(Object.entries(meta?.metadata ?? {}).map(([name, value]) => [`${META_PREFIX}${name}`, value])),
    });
    const stream = createReadStream(file);
    stream.pipe(res);
    await once(stream, 'close');
  }

  /** A GET is signed either in its query (a presigned URL) or in its Authorization header (an SDK call). */
  function authenticate(req: PresignedRequest): void {
    const opts = { region, now: now(), lookup: (id: string) => credentials.get(id) };
    if (req.headers['authorization'] !== undefined) verifyHeaderSignedRequest(req, opts);
    else verifyPresignedRequest(req, opts);
  }

  async function handleList(req: IncomingMessage, res: ServerResponse, rawPath: string, rawQuery: string, bucket: string): Promise<void> {
    if (!buckets.has(bucket)) throw errors.noSuchBucket(bucket);
    authenticate({ method: 'GET', rawPath, rawQuery, headers: req.headers });
    const query = parseQuery(rawQuery);
    if (query.find((p) => p.name === 'list-type')?.value !== '2') {
      throw new S3Error(501, 'NotImplemented', 'The devcloud S3 stand-in lists with ListObjectsV2 only (list-type=2).');
    }
    const body = await listObjectsV2({
      bucket,
      objects: await filesOf(bucket).list(),
      query,
      knownEtag: (key) => contentTypes.get(`${bucket}/${key}`)?.etag,
    });
    await delay();
    stats.lists += 1;
    report('GET', rawPath, 200);
    res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': String(Buffer.byteLength(body)) });
    res.end(body);
  }

  async function delay(): Promise<void> {
    const ms = faults.delayMs ?? 0;
    if (ms > 0) await sleep(ms, undefined, { signal: stopping.signal }).catch(() => undefined);
  }

  function report(method: string, pathname: string, status: number, code?: string): void {
    const ev: S3RequestEvent = { method, path: pathname, status, ...(code !== undefined ? { code } : {}) };
    log.info(ev, 's3 request');
    events.emit('request', ev);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    const hostId = randomBytes(24).toString('base64');
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', hostId);
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const rawQuery = q === -1 ? '' : rawUrl.slice(q + 1);
    if (method === 'POST') stats.posts += 1;
    try {
      const { bucket, key } = splitPath(rawPath);
      if (method === 'POST' && key === '') {
        const failNext = faults.failNext;
        if (failNext && failNext.count > 0) {
          failNext.count -= 1;
          await drain(req);
          throw failNext.status === 503 ? errors.slowDown() : errors.internal();
        }
        const result = await handlePost(req, bucket);
        await delay();
        // Events go out before the answer, so a test that awaits the response can rely on them.
        if (result.stored) {
          stats.stored += 1;
          events.emit('object', result.stored);
        }
        report(method, rawPath, result.status);
        res.writeHead(result.status, { ...result.headers, 'Content-Length': String(Buffer.byteLength(result.body)) });
        res.end(result.body);
        return;
      }
      if (method === 'GET' && key !== '') {
        await handleGet(req, res, rawPath, rawQuery, bucket, key);
        return;
      }
      if (method === 'GET' && bucket !== '') {
        await handleList(req, res, rawPath, rawQuery, bucket);
        return;
      }
      throw errors.methodNotAllowed(method);
    } catch (err) {
      const s3err =
        err instanceof S3Error
          ? err
          : (log.error({ err: err instanceof Error ? err.message : String(err), path: rawPath }, 's3 stand-in failed'), errors.internal());
      if (method === 'POST') stats.rejected += 1;
      await drain(req);
      await delay();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      report(method, rawPath, s3err.status, s3err.code);
      const body = errorXml(s3err, requestId, hostId);
      res.writeHead(s3err.status, { 'Content-Type': 'application/xml', 'Content-Length': String(Buffer.byteLength(body)) });
      res.end(body);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err: err instanceof Error ? err.message : String(err) }, 's3 stand-in could not answer');
      res.destroy();
    });
  });
  server.on('connection', () => {
    stats.connections += 1;
  });
  server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info({ url, buckets: [...buckets] }, 's3 stand-in listening');

  return {
    url,
    port,
    events,
    stats,
    setFaults(f: S3Faults): void {
      faults = { ...f, ...(f.failNext ? { failNext: { ...f.failNext } } : {}) };
    },
    async stop(): Promise<void> {
      stopping.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
