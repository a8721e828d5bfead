/**
 * The snapshot contract carried by the named shadow `cloudcam` (docs/protocol.md):
 * the cloud writes `desired.snapshot` (a SnapshotRequest), the agent answers with
 * `reported.snapshot` (a SnapshotReport) and clears `desired.snapshot` in the same update.
 */

export interface SnapshotRequest {
  /** Unique request id; the agent handles each id at most once. */
  id: string;
  /** Presigned POST target (S3 bucket URL). */
  url: string;
  /** Presigned POST form fields, sent in order before the file. */
  fields: Record<string, string>;
  /** ISO 8601 UTC time after which the presigned POST is no longer valid. */
  expiresAt: string;
  /** Upper bound of the policy's content-length-range. */
  maxBytes: number;
  /** Optional VAPIX overrides of the agent's defaults. */
  resolution?: string;
  compression?: number;
}

export type SnapshotStatus = 'uploaded' | 'failed' | 'rejected' | 'expired';

export interface SnapshotReport {
  id: string;
  status: SnapshotStatus;
  /** Bytes uploaded (0 when nothing was). */
  bytes: number;
  /** The S3 key the request named, when it named one. */
  key: string | null;
  /** Milliseconds from the request's arrival at the agent to its final status. */
  ms: number;
  /** Why it did not upload; null on success. */
  error: string | null;
  /** ISO time the agent finished with the request. */
  at: string;
}

const SUPERSEDED = 'superseded by newer request ';

/** The reason of a request answered `rejected` because a newer one came while it waited (the agent serves only the newest). */
export function supersededReason(byId: string): string {
  return `${SUPERSEDED}${byId}`;
}

/** Whether a report says its request was superseded: the design working, not a failed snapshot. */
export function isSuperseded(report: Pick<SnapshotReport, 'status' | 'error'>): boolean {
  return report.status === 'rejected' && typeof report.error === 'string' && report.error.startsWith(SUPERSEDED);
}

/** S3 caps a POST's form fields (everything but the file) at 20 KB. */
export const MAX_FORM_FIELDS_BYTES = 20 * 1024;
export const MAX_URL_LENGTH = 2048;
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const RESOLUTION_PATTERN = /^[1-9]\d{1,4}x[1-9]\d{1,4}$/;
/** The largest snapshot any request may ask for; a JPEG from a 4K camera stays well under it. */
export const MAX_SNAPSHOT_BYTES = 50 * 1024 * 1024;

const ALLOWED_KEYS = new Set(['id', 'url', 'fields', 'expiresAt', 'maxBytes', 'resolution', 'compression']);

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string; id?: string };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : `"${v}"`;
  if (typeof v === 'object') return 'an object';
  return typeof v === 'number' || typeof v === 'boolean' ? `${typeof v} ${v}` : typeof v;
}

/**
 * Checks the shape of `desired.snapshot`. Only the shape: expiry, URL scheme and host are checked by
 * the agent against its clock and its allow-list. Errors name the field and what was wrong; they never
 * quote field values (presigned fields carry signatures).
 */
export function parseSnapshotRequest(input: unknown): ParseResult<SnapshotRequest> {
  if (!isPlainObject(input)) return { ok: false, error: `desired.snapshot must be an object, got ${describe(input)}` };
  const rawId = input['id'];
  const id = typeof rawId === 'string' && REQUEST_ID_PATTERN.test(rawId) ? rawId : undefined;
  const fail = (error: string): ParseResult<SnapshotRequest> => (id === undefined ? { ok: false, error } : { ok: false, error, id });

  if (id === undefined) return fail(`snapshot.id must be 1-64 characters of [A-Za-z0-9_.:-], got ${describe(rawId)}`);
  const extra = Object.keys(input).filter((k) => !ALLOWED_KEYS.has(k));
  if (extra.length > 0) return fail(`snapshot has unknown keys: ${extra.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`);

  const { url, fields, expiresAt, maxBytes, resolution, compression } = input;
  if (typeof url !== 'string' || url.length === 0 || url.length > MAX_URL_LENGTH) {
    return fail(`snapshot.url must be a URL string of at most ${MAX_URL_LENGTH} characters, got ${describe(url)}`);
  }
  if (!URL.canParse(url)) return fail('snapshot.url is not a valid URL');
  if (!isPlainObject(fields)) return fail(`snapshot.fields must be an object of strings, got ${describe(fields)}`);
  let fieldBytes = 0;
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value !== 'string') return fail(`snapshot.fields.${name.slice(0, 40)} must be a string, got ${typeof value}`);
    if (name === 'file') return fail('snapshot.fields must not contain "file": the agent adds the file itself');
    fieldBytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  }
  if (fieldBytes > MAX_FORM_FIELDS_BYTES) return fail(`snapshot.fields total ${fieldBytes} bytes; S3 accepts at most ${MAX_FORM_FIELDS_BYTES}`);
  if (typeof fields['key'] !== 'string' || fields['key'].length === 0) return fail('snapshot.fields.key is missing: a presigned POST names its object key');
  if (typeof expiresAt !== 'string' || Number.isNaN(Date.parse(expiresAt)) || expiresAt.length > 40) {
    return fail(`snapshot.expiresAt must be an ISO 8601 time, got ${describe(expiresAt)}`);
  }
  if (typeof maxBytes !== 'number' || !Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > MAX_SNAPSHOT_BYTES) {
    return fail(`snapshot.maxBytes must be a whole number from 1 to ${MAX_SNAPSHOT_BYTES}, got ${describe(maxBytes)}`);
  }
  if (resolution !== undefined && (typeof resolution !== 'string' || !RESOLUTION_PATTERN.test(resolution))) {
    return fail(`snapshot.resolution must look like 1920x1080, got ${describe(resolution)}`);
  }
  if (compression !== undefined && (typeof compression !== 'number' || !Number.isInteger(compression) || compression < 0 || compression > 100)) {
    return fail(`snapshot.compression must be a whole number from 0 to 100, got ${describe(compression)}`);
  }
  const value: SnapshotRequest = { id, url, fields: { ...(fields as Record<string, string>) }, expiresAt, maxBytes };
  if (resolution !== undefined) value.resolution = resolution;
  if (compression !== undefined) value.compression = compression;
  return { ok: true, value };
}

/** The shadow update that reports a final status and clears the request, in one document. */
export function snapshotReportUpdate(report: SnapshotReport, clientToken?: string): string {
  const doc: Record<string, unknown> = { state: { desired: { snapshot: null }, reported: { snapshot: report } } };
  if (clientToken !== undefined) doc['clientToken'] = clientToken;
  return JSON.stringify(doc);
}

export interface PresenceMessage {
  state: 'online' | 'offline';
  at: string;
  agentVersion: string;
}

export function parsePresence(input: unknown): PresenceMessage | undefined {
  if (!isPlainObject(input)) return undefined;
  const { state, at, agentVersion } = input;
  if ((state !== 'online' && state !== 'offline') || typeof at !== 'string' || typeof agentVersion !== 'string') return undefined;
  return { state, at, agentVersion };
}

export interface SnapshotRequestMessage {
  reason: string;
  at: string;
}
