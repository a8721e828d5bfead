import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Agent, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { httpRequest, type HttpResponse } from './http-request.js';

/** A presigned S3 POST as createPresignedPost returns it: the form's action URL and its fields. */
export interface PresignedPost {
  url: string;
  fields: Record<string, string>;
}

/**
 * A 2xx answer. It is returned only once the connection no longer reads the file (a server may
 * answer before it has read the whole form), so the caller may then release the file's memory.
 */
export interface UploadResult {
  status: number;
  /** The object's MD5 in hex, without S3's quotes. */
  etag?: string;
  location?: string;
  ms: number;
}

export interface UploadOptions {
  /** MIME type of the file; sent as the `Content-Type` field when the policy asks for one. */
  contentType: string;
  /** Sent in the file part's Content-Disposition; S3 substitutes it for `${filename}` in the key. */
  filename?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Keep-alive connection agent (e.g. one pinned to the checked address); defaults to node's global one. */
  agent?: Agent;
}

/**
 * Why an upload failed. `code` is S3's <Code> (AccessDenied, EntityTooLarge, SlowDown, ...) or one
 * of ours: Timeout, NetworkError, BadResponse (no S3 error document), Aborted (the caller's signal).
 */
export class S3UploadError extends Error {
  readonly status?: number;
  readonly code: string;
  /** True when the same request may succeed later: 5xx, throttling, timeouts, broken connections. */
  readonly retryable: boolean;

  constructor(message: string, init: { code: string; retryable: boolean; status?: number; cause?: unknown }) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'S3UploadError';
    this.code = init.code;
    this.retryable = init.retryable;
    if (init.status !== undefined) this.status = init.status;
  }
}

/** S3 codes worth retrying even when the status is 4xx (RequestTimeout is a 400). */
const RETRYABLE_CODES = new Set(['InternalError', 'SlowDown', 'ServiceUnavailable', 'RequestTimeout']);
/** Form field values that are credentials: they must never appear in an error message. */
const SECRET_FIELDS = new Set(['policy', 'x-amz-signature', 'x-amz-security-token']);
const MAX_ERROR_BODY = 64 * 1024;
const CHUNK = 64 * 1024;

function xmlText(xml: string, element: string): string | undefined {
  const m = new RegExp(`<${element}>([\\s\\S]*?)</${element}>`).exec(xml);
  if (!m?.[1]) return undefined;
  return m[1]
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
}

/** Multipart header values: quotes and line breaks are percent-escaped as browsers do (WHATWG). */
function quoteParam(value: string): string {
  return value.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** True when the base64 policy has a condition on Content-Type (so the form must carry that field). */
function policyWantsContentType(fields: Record<string, string>): boolean {
  const policy = Object.entries(fields).find(([name]) => name.toLowerCase() === 'policy')?.[1];
  if (!policy) return false;
  try {
    const doc = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as { conditions?: unknown };
    if (!Array.isArray(doc.conditions)) return false;
    return doc.conditions.some((c: unknown) => {
      if (Array.isArray(c)) return typeof c[1] === 'string' && c[1].toLowerCase() === '$content-type';
      return c !== null && typeof c === 'object' && Object.keys(c).some((k) => k.toLowerCase() === 'content-type');
    });
  } catch {
    return false;
  }
}

function validate(post: PresignedPost, file: Buffer, opts: UploadOptions): URL {
  let url: URL;
  try {
    url = new URL(post.url);
  } catch {
    throw new TypeError('uploadPresignedPost: post.url is not a valid URL; pass the url from the presigned POST.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError(`uploadPresignedPost: post.url must be http(s), got ${url.protocol}`);
  }
  if (post.fields === null || typeof post.fields !== 'object') {
    throw new TypeError('uploadPresignedPost: post.fields must be an object of string form fields.');
  }
  for (const [name, value] of Object.entries(post.fields)) {
    if (typeof value !== 'string') throw new TypeError(`uploadPresignedPost: form field "${name}" must be a string.`);
    if (name.toLowerCase() === 'file') throw new TypeError('uploadPresignedPost: post.fields must not contain "file"; the file is sent last by the uploader.');
  }
  if (!Buffer.isBuffer(file)) throw new TypeError('uploadPresignedPost: file must be a Buffer.');
  if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) {
    throw new TypeError(`uploadPresignedPost: timeoutMs must be a positive number of milliseconds, got ${String(opts.timeoutMs)}.`);
  }
  return url;
}

interface Form {
  contentType: string;
  length: number;
  body: () => AsyncGenerator<Buffer>;
  /** True once the last byte of the body was handed to the connection. */
  readonly complete: boolean;
}

/**
 * Builds the multipart body: every presigned field in order, Content-Type if the policy needs it,
 * and `file` last (S3 ignores fields after the file). Its length is known up front because S3
 * refuses a POST without Content-Length (chunked transfer).
 */
function buildForm(post: PresignedPost, file: Buffer, opts: UploadOptions): Form {
  let boundary: string;
  do boundary = `----cloudcam${randomBytes(16).toString('hex')}`;
  while (file.includes(boundary));

  const fields = Object.entries(post.fields);
  const hasContentType = fields.some(([name]) => name.toLowerCase() === 'content-type');
  if (!hasContentType && policyWantsContentType(post.fields)) fields.push(['Content-Type', opts.contentType]);

  let head = '';
  for (const [name, value] of fields) {
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${quoteParam(name)}"\r\n\r\n${value}\r\n`;
  }
  head +=
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoteParam(opts.filename ?? 'upload')}"\r\n` +
    `Content-Type: ${opts.contentType.replace(/[\r\n]/g, '')}\r\n\r\n`;
  const headBuf = Buffer.from(head, 'utf8');
  const tailBuf = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8');
  let complete = false;
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length: headBuf.length + file.length + tailBuf.length,
    get complete() {
      return complete;
    },
    async *body() {
      yield headBuf;
      // Chunks keep an abort responsive and the socket's buffer small on the camera.
      for (let at = 0; at < file.length; at += CHUNK) yield file.subarray(at, Math.min(file.length, at + CHUNK));
      complete = true;
      yield tailBuf;
    },
  };
}

/** Removes credential values from text that came back from the server. */
function redact(text: string, fields: Record<string, string>): string {
  let out = text;
  for (const [name, value] of Object.entries(fields)) {
    if (SECRET_FIELDS.has(name.toLowerCase()) && value.length >= 8) out = out.split(value).join('[redacted]');
  }
  return out;
}

/**
 * `bodySent`: the whole form went out before the failure. S3 may then have stored the object and
 * only its answer was lost, so the same POST is not retryable: sending it again could upload the
 * request twice (at most once is the agent's rule; the cloud can ask again with a new id). Before
 * the last byte, S3 cannot have stored anything (it needs the whole multipart body).
 */
function transportError(err: unknown, timeout: AbortSignal, caller: AbortSignal | undefined, host: string, timeoutMs: number, bodySent: boolean): S3UploadError {
  const unknownOutcome = bodySent ? '; the whole file was sent, so S3 may have stored it and it is not sent again' : '';
  if (timeout.aborted && !caller?.aborted) {
    return new S3UploadError(`upload to ${host} timed out after ${timeoutMs} ms${unknownOutcome}`, { code: 'Timeout', retryable: !bodySent, cause: err });
  }
  if (caller?.aborted) {
    return new S3UploadError(`upload to ${host} was aborted${unknownOutcome}`, { code: 'Aborted', retryable: false, cause: err });
  }
  const detail = err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
  return new S3UploadError(`upload to ${host} failed: network error (${detail})${unknownOutcome}`, { code: 'NetworkError', retryable: !bodySent, cause: err });
}

/**
 * Uploads `file` with a presigned S3 POST (multipart/form-data, `file` last). Resolves on a 2xx
 * answer; otherwise throws S3UploadError with S3's code, the HTTP status and whether to retry.
 */
export async function uploadPresignedPost(post: PresignedPost, file: Buffer, opts: UploadOptions): Promise<UploadResult> {
  const url = validate(post, file, opts);
  const form = buildForm(post, file, opts);
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  const started = performance.now();

  let res: HttpResponse;
  let text: string;
  try {
    res = await httpRequest(url, {
      method: 'POST',
      // With a Content-Length, node streams the body as is, never chunked.
      headers: { 'content-type': form.contentType, 'content-length': String(form.length) },
      body: Readable.from(form.body(), { objectMode: false }),
      signal,
      agent: opts.agent,
    });
    text = await readLimited(res.body, MAX_ERROR_BODY);
  } catch (err) {
    // A failure after the last byte left (including while reading the answer) has an unknown outcome.
    throw transportError(err, timeout, opts.signal, url.host, opts.timeoutMs, form.complete);
  }
  const ms = Math.round(performance.now() - started);
  const status = res.statusCode;

  if (status >= 200 && status < 300) {
    await res.bodyReleased;
    // node keeps one value of ETag and Location (it drops duplicates of these headers).
    const etagRaw = res.headers.etag ?? xmlText(text, 'ETag');
    const location = res.headers.location ?? xmlText(text, 'Location');
    return {
      status,
      ...(etagRaw !== undefined ? { etag: etagRaw.replace(/"/g, '') } : {}),
      ...(location !== undefined ? { location } : {}),
      ms,
    };
  }

  const code = xmlText(text, 'Code');
  const message = xmlText(text, 'Message');
  const retryable = status >= 500 || (code !== undefined && RETRYABLE_CODES.has(code));
  if (code === undefined) {
    throw new S3UploadError(`upload to ${url.host} failed: HTTP ${status} without an S3 error document`, {
      code: 'BadResponse',
      status,
      retryable,
    });
  }
  const detail = redact(message ?? '(no message)', post.fields);
  throw new S3UploadError(`S3 rejected the upload (HTTP ${status} ${code}): ${detail}`, { code, status, retryable });
}

/** Reads at most `limit` bytes of a body as text and discards the rest, so the socket can be reused. */
async function readLimited(body: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size < limit) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, limit);
}
