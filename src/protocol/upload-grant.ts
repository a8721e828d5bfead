/**
 * The upload grant (docs/protocol.md, "Event snapshots"): a standing presigned S3 POST in the named
 * shadow's `desired.uploadGrant` whose policy lets the device write keys under `{thing}/events/`
 * (dated as far as S3's policy can say: eventKeyDatePrefix), so an event is uploaded at once, with no cloud round trip per picture. The cloud handler issues it
 * on a request `{reason: 'grant'}`; the agent checks every key and field against it before it tries,
 * as S3 would (a grant for another thing, a key outside the prefix, a field the policy does not cover).
 */
import { MAX_FORM_FIELDS_BYTES, MAX_SNAPSHOT_BYTES, MAX_URL_LENGTH, type ParseResult } from './snapshot.js';
import { THING_NAME_PATTERN } from './topics.js';

/** The reason on the request topic that asks the cloud handler for a fresh grant. */
export const GRANT_REQUEST_REASON = 'grant';
/** A grant never lives longer than this: a leaked grant is worth an hour of uploads under one prefix. */
export const MAX_GRANT_SECONDS = 3600;
/** The agent asks for a new grant when the current one has less than this left (the 10 minutes). */
export const GRANT_RENEW_MARGIN_MS = 10 * 60 * 1000;

/** The `x-amz-meta-*` fields an event upload carries; the grant's policy covers each with a starts-with condition. */
export const EVENT_META_FIELDS = {
  trigger: 'x-amz-meta-trigger',
  topic: 'x-amz-meta-event-topic',
  time: 'x-amz-meta-event-time',
  /** When the uploaded frame was taken: at once after the event, or earlier for a pre-event frame. */
  frameTime: 'x-amz-meta-frame-time',
} as const;
export type EventMeta = Record<keyof typeof EVENT_META_FIELDS, string>;

/** Trigger names are part of object keys and metadata: short and plain. */
export const TRIGGER_NAME_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** S3 caps user metadata at 2 KB in all; each of our values stays far below. */
export const MAX_META_VALUE_LENGTH = 256;

export interface UploadGrant {
  /** Presigned POST target (S3 bucket URL). */
  url: string;
  /** Presigned POST fields; `key` is `{thing}/events/${filename}`, replaced by the agent with the event's key. */
  fields: Record<string, string>;
  /** Every key written with this grant starts with it: `{thing}/events/`. */
  keyPrefix: string;
  /** ISO 8601 UTC time the policy expires. */
  expiresAt: string;
  /** Upper bound of the policy's content-length-range. */
  maxBytes: number;
}

export function eventKeyPrefix(thing: string): string {
  return `${thing}/events/`;
}

/** How far back an event key may be dated: a camera's queue held offline, and the viewer's event window. */
export const EVENT_KEY_PAST_DAYS = 366;
/** How far ahead of the cloud's clock an event key may be dated: the camera's clock names it. */
export const EVENT_KEY_FUTURE_MS = 24 * 3600 * 1000;

/**
 * The longest key prefix that every event key dated from `from` to `to` shares, e.g.
 * `camera-1/events/202` for a year back from 2026-12-07: all S3's POST policy can say about dates,
 * since its `starts-with` takes one prefix (AWS, "Creating a POST policy": conditions). It keeps a
 * camera from naming keys in 2015 or 9999; the viewer's listing bounds the rest (docs/security.md).
 */
export function eventKeyDatePrefix(thing: string, from: Date, to: Date): string {
  const [a, b] = [utcDayPath(from), utcDayPath(to)];
  let n = 0;
  while (n < a.length && a[n] === b[n]) n++;
  return `${eventKeyPrefix(thing)}${a.slice(0, n)}`;
}

/** The key prefix a grant's policy allows: its `key` field up to `${filename}`. */
export function grantPolicyKeyPrefix(grant: UploadGrant): string {
  const key = grant.fields['key'] ?? grant.keyPrefix;
  const at = key.indexOf('${filename}');
  return at === -1 ? key : key.slice(0, at);
}

/** `20261127T130205412Z`: sortable, no characters S3 or a file system minds. */
export function compactStamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.(\d{3})Z$/, '$1Z');
}

/** The `yyyy/mm/dd` (UTC) part of a key. */
export function utcDayPath(at: Date): string {
  return `${at.getUTCFullYear()}/${String(at.getUTCMonth() + 1).padStart(2, '0')}/${String(at.getUTCDate()).padStart(2, '0')}`;
}

/** Which frame of an event a key holds: the one captured after the event, or the buffered one nearest its time. */
export type EventFrame = 'event' | 'pre';

/**
 * `{thing}/events/{yyyy}/{mm}/{dd}/{timestamp}-{trigger}.jpg`, in UTC; a pre-event frame's key ends
 * `-{trigger}.pre.jpg` (a trigger name has no dot, so no trigger's key can look like another's pre frame).
 */
export function eventKey(thing: string, trigger: string, at: Date, frame: EventFrame = 'event'): string {
  if (!THING_NAME_PATTERN.test(thing)) throw new Error(`invalid thing name "${thing}"`);
  if (!TRIGGER_NAME_PATTERN.test(trigger)) throw new Error(`invalid trigger name "${trigger}": use 1-32 of [A-Za-z0-9_-]`);
  return `${eventKeyPrefix(thing)}${utcDayPath(at)}/${compactStamp(at)}-${trigger}${frame === 'pre' ? '.pre' : ''}.jpg`;
}

const EVENT_KEY_TAIL = /\/(\d{8}T\d{9}Z)-([A-Za-z0-9_-]{1,32})(\.pre)?\.jpg$/;

/** Reads an event key back (the viewer, `snapshot latest`): its trigger and frame, or undefined for any other key. */
export function parseEventKey(key: string): { thing: string; trigger: string; frame: EventFrame } | undefined {
  const i = key.indexOf('/events/');
  if (i <= 0) return undefined;
  const thing = key.slice(0, i);
  const m = EVENT_KEY_TAIL.exec(key);
  if (!THING_NAME_PATTERN.test(thing) || !m) return undefined;
  return { thing, trigger: m[2] as string, frame: m[3] ? 'pre' : 'event' };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

const GRANT_KEYS = new Set(['url', 'fields', 'keyPrefix', 'expiresAt', 'maxBytes']);

/**
 * Checks the shape of `desired.uploadGrant` and that it is this thing's. Errors name the field and
 * never quote values (the fields carry a signature and maybe a session token).
 */
export function parseUploadGrant(input: unknown, thing: string): ParseResult<UploadGrant> {
  const fail = (error: string): ParseResult<UploadGrant> => ({ ok: false, error: `uploadGrant ${error}` });
  if (!isPlainObject(input)) return fail('must be an object');
  const extra = Object.keys(input).filter((k) => !GRANT_KEYS.has(k));
  if (extra.length > 0) return fail(`has unknown keys: ${extra.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`);
  const { url, fields, keyPrefix, expiresAt, maxBytes } = input;
  if (typeof url !== 'string' || url.length === 0 || url.length > MAX_URL_LENGTH || !URL.canParse(url)) {
    return fail(`.url must be a URL of at most ${MAX_URL_LENGTH} characters`);
  }
  if (keyPrefix !== eventKeyPrefix(thing)) return fail(`.keyPrefix must be "${eventKeyPrefix(thing)}" (this thing's events)`);
  if (!isPlainObject(fields)) return fail('.fields must be an object of strings');
  let bytes = 0;
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value !== 'string') return fail(`.fields.${name.slice(0, 40)} must be a string`);
    if (name.toLowerCase() === 'file') return fail('.fields must not contain "file"');
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  }
  if (bytes > MAX_FORM_FIELDS_BYTES) return fail(`.fields total ${bytes} bytes; S3 accepts at most ${MAX_FORM_FIELDS_BYTES}`);
  if (typeof fields['key'] !== 'string' || !fields['key'].startsWith(eventKeyPrefix(thing))) {
    return fail(`.fields.key must start with "${eventKeyPrefix(thing)}"`);
  }
  if (!Object.keys(fields).some((name) => name.toLowerCase() === 'policy')) return fail('.fields.policy is missing');
  if (typeof expiresAt !== 'string' || expiresAt.length > 40 || Number.isNaN(Date.parse(expiresAt))) return fail('.expiresAt must be an ISO 8601 time');
  if (typeof maxBytes !== 'number' || !Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > MAX_SNAPSHOT_BYTES) {
    return fail(`.maxBytes must be a whole number from 1 to ${MAX_SNAPSHOT_BYTES}`);
  }
  return { ok: true, value: { url, fields: { ...(fields as Record<string, string>) }, keyPrefix, expiresAt, maxBytes } };
}

/** Milliseconds the grant stays usable at `now` (negative once expired). */
export function grantRemainingMs(grant: UploadGrant, now: number): number {
  return Date.parse(grant.expiresAt) - now;
}

export function grantNeedsRenewal(grant: UploadGrant | undefined, now: number, marginMs = GRANT_RENEW_MARGIN_MS): boolean {
  return grant === undefined || grantRemainingMs(grant, now) < marginMs;
}

/** A character S3 would not keep in a metadata header, or a control character. */
const META_VALUE = /^[\x20-\x7e]*$/;

/**
 * The form fields of one event upload: the grant's fields with `key` set to the event's key and the
 * metadata added. Refuses, before anything is sent, what S3 would refuse under the grant's policy:
 * a key outside the prefix, a metadata value S3 cannot carry.
 */
export function grantUploadFields(grant: UploadGrant, key: string, meta: EventMeta): Record<string, string> {
  if (!key.startsWith(grant.keyPrefix) || key.includes('${filename}') || key.length > 1024) {
    throw new Error(`key "${key.slice(0, 200)}" is outside the grant's prefix "${grant.keyPrefix}"`);
  }
  // The policy may narrow the prefix to the dates it allows (eventKeyDatePrefix): a key dated outside
  // them would be refused by S3 with every grant, so it is refused here, for good, instead.
  const allowed = grantPolicyKeyPrefix(grant);
  if (!key.startsWith(allowed)) {
    throw new Error(`key "${key.slice(0, 200)}" is dated outside what the grant allows (keys starting "${allowed}"): is the camera's clock right?`);
  }
  const fields: Record<string, string> = { ...grant.fields, key };
  for (const [name, field] of Object.entries(EVENT_META_FIELDS) as Array<[keyof EventMeta, string]>) {
    const value = meta[name];
    if (value.length > MAX_META_VALUE_LENGTH || !META_VALUE.test(value)) {
      throw new Error(`event ${name} is not a printable ASCII string of at most ${MAX_META_VALUE_LENGTH} characters`);
    }
    fields[field] = value;
  }
  return fields;
}
