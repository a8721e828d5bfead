/**
 * The shadow document rules of AWS IoT ("Device Shadow service documents"), as pure functions:
 * parsing and validating a request state document, merging it into the stored state with per-leaf
 * metadata timestamps, and computing the delta. No I/O, no clock: timestamps come in as arguments.
 */
import { MESSAGES, ShadowError } from './errors.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export const SECTIONS = ['desired', 'reported'] as const;
export type Section = (typeof SECTIONS)[number];

/** Stored state, or its metadata tree (same shape, `{timestamp}` at every leaf). */
export type Sections = Partial<Record<Section, JsonObject>>;

/** The `state` of an update request: a section set to null removes it. */
export type StatePatch = Partial<Record<Section, JsonObject | null>>;

export interface UpdateRequest {
  state: StatePatch;
  clientToken?: string;
  version?: number;
}

/** AWS IoT Core quotas: the desired and reported sections together, compact JSON, metadata excluded. */
export const MAX_STATE_BYTES = 8 * 1024;
/** An MQTT message to AWS IoT Core is capped at 128 KB; the same cap applies to a REST body here. */
export const MAX_REQUEST_BYTES = 128 * 1024;
/** Levels in a desired or reported section, the section itself being the first. */
export const MAX_DEPTH = 6;
/** "The client token can be no longer than 64 bytes". */
export const MAX_CLIENT_TOKEN_BYTES = 64;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own properties only: a key like "__proto__" in a document must stay plain data. */
export function getOwn(obj: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

export function setOwn(obj: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

export function clone<T extends JsonValue>(value: T): T {
  return structuredClone(value);
}

function decode(request: Buffer | string): string {
  if (typeof request === 'string') return request;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(request);
  } catch {
    throw new ShadowError(415, MESSAGES.notUtf8);
  }
}

function byteLength(request: Buffer | string): number {
  return typeof request === 'string' ? Buffer.byteLength(request) : request.length;
}

/** Parses a request body as a JSON object; an empty body is an empty object when `emptyOk`. */
function parseObject(request: Buffer | string, emptyOk: boolean): JsonObject {
  if (byteLength(request) > MAX_REQUEST_BYTES) throw new ShadowError(413, MESSAGES.tooLarge);
  const text = decode(request);
  if (emptyOk && text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ShadowError(400, MESSAGES.invalidJson);
  }
  if (!isObject(parsed)) throw new ShadowError(400, MESSAGES.invalidJson);
  return parsed;
}

/** Validates a clientToken field: a string of at most 64 bytes, or absent. */
export function checkClientToken(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || Buffer.byteLength(value) > MAX_CLIENT_TOKEN_BYTES) {
    throw new ShadowError(400, MESSAGES.invalidClientToken);
  }
  return value;
}

/**
 * The client token of a get or delete request. AWS ignores the rest of that payload; the device SDKs
 * send `{"clientToken": ...}` to correlate the response, so only that field is read.
 */
export function parseTokenRequest(request: Buffer | string | undefined): string | undefined {
  if (request === undefined) return undefined;
  let body: JsonObject;
  try {
    body = parseObject(request, true);
  } catch {
    return undefined;
  }
  return checkClientToken(getOwn(body, 'clientToken'));
}

/** Container levels of a value: a scalar is 0, `{}` and `[]` are 1. */
function depth(value: JsonValue): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depth));
  if (isObject(value)) return 1 + Math.max(0, ...Object.values(value).map(depth));
  return 0;
}

function arrayHasNull(value: JsonValue, inArray: boolean): boolean {
  if (value === null) return inArray;
  if (Array.isArray(value)) return value.some((item) => arrayHasNull(item, true));
  if (isObject(value)) return Object.values(value).some((item) => arrayHasNull(item, inArray));
  return false;
}

function checkSection(section: Section, value: JsonValue | undefined, token: string | undefined): JsonObject | null | undefined {
  if (value === undefined || value === null) return value;
  if (!isObject(value)) {
    throw new ShadowError(400, section === 'desired' ? MESSAGES.desiredNotObject : MESSAGES.reportedNotObject, token);
  }
  if (depth(value) > MAX_DEPTH) throw new ShadowError(400, MESSAGES.tooDeep, token);
  // "Arrays can't have null values" (Array values in shadow documents).
  if (arrayHasNull(value, false)) throw new ShadowError(400, MESSAGES.invalidNode, token);
  return value;
}

/**
 * Parses and validates a request state document. Top-level fields other than state, clientToken and
 * version are ignored, as AWS ignores them ("Diagnosing problems with shadows").
 */
export function parseUpdateRequest(request: Buffer | string): UpdateRequest {
  const body = parseObject(request, false);
  const clientToken = checkClientToken(getOwn(body, 'clientToken'));
  const fail = (code: 400, message: string): ShadowError => new ShadowError(code, message, clientToken);

  const version = getOwn(body, 'version');
  if (version !== undefined && !(typeof version === 'number' && Number.isSafeInteger(version) && version >= 0)) {
    throw fail(400, MESSAGES.invalidVersion);
  }
  const state = getOwn(body, 'state');
  if (state === undefined) throw fail(400, MESSAGES.missingState);
  const patch: StatePatch = {};
  if (state === null) {
    // "Setting the device's shadow state to null does not delete the shadow": both sections go.
    patch.desired = null;
    patch.reported = null;
  } else {
    if (!isObject(state)) throw fail(400, MESSAGES.stateNotObject);
    for (const key of Object.keys(state)) {
      if (key !== 'desired' && key !== 'reported') throw fail(400, MESSAGES.invalidNode);
    }
    for (const section of SECTIONS) {
      const checked = checkSection(section, getOwn(state, section), clientToken);
      if (checked !== undefined) patch[section] = checked;
    }
  }
  const result: UpdateRequest = { state: patch };
  if (clientToken !== undefined) result.clientToken = clientToken;
  if (version !== undefined) result.version = version;
  return result;
}

/**
 * Merges `patch` into `target` and its metadata tree `meta` in place: null removes a key, an object
 * merges key by key, anything else (arrays included) replaces the value and stamps it with `timestamp`.
 * An object emptied by removals is removed too, so no empty husks remain.
 */
function mergeInto(target: JsonObject, meta: JsonObject, patch: JsonObject, timestamp: number): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete target[key];
      delete meta[key];
    } else if (isObject(value)) {
      let child = getOwn(target, key);
      let childMeta = getOwn(meta, key);
      if (!isObject(child) || !isObject(childMeta)) {
        child = {};
        childMeta = {};
        setOwn(target, key, child);
        setOwn(meta, key, childMeta);
      }
      mergeInto(child, childMeta, value, timestamp);
      if (Object.keys(value).length > 0 && Object.keys(child).length === 0) {
        delete target[key];
        delete meta[key];
      }
    } else {
      setOwn(target, key, clone(value));
      setOwn(meta, key, { timestamp });
    }
  }
}

export interface StoredDocument {
  state: Sections;
  metadata: Sections;
}

/** The state and metadata after applying `patch`; the inputs are left untouched. */
export function applyPatch(current: StoredDocument, patch: StatePatch, timestamp: number): StoredDocument {
  const next: StoredDocument = { state: {}, metadata: {} };
  for (const section of SECTIONS) {
    const value = patch[section];
    if (value === null) continue;
    const target = clone(current.state[section] ?? {});
    const meta = clone(current.metadata[section] ?? {});
    if (value !== undefined) mergeInto(target, meta, value, timestamp);
    // "A shadow document contains a desired property only if it has a desired state."
    if (Object.keys(target).length > 0) {
      next.state[section] = target;
      next.metadata[section] = meta;
    }
  }
  return next;
}

/** Bytes counted against the 8 KB quota: the compact JSON of the desired and reported sections. */
export function stateBytes(state: Sections): number {
  return Buffer.byteLength(JSON.stringify(state));
}

function isDeepEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => isDeepEqual(item, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && isDeepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * Desired fields that differ from reported ("Delta state"): nested objects are compared key by key and
 * keep their path to the root; arrays and other values are compared whole; reported-only fields are
 * left out. Undefined when nothing differs.
 */
export function computeDelta(desired: JsonObject | undefined, reported: JsonObject | undefined): JsonObject | undefined {
  if (desired === undefined) return undefined;
  const delta: JsonObject = {};
  for (const [key, want] of Object.entries(desired)) {
    const have = reported === undefined ? undefined : getOwn(reported, key);
    if (isObject(want) && isObject(have)) {
      const inner = computeDelta(want, have);
      if (inner !== undefined) setOwn(delta, key, inner);
    } else if (!isDeepEqual(want, have)) {
      setOwn(delta, key, clone(want));
    }
  }
  return Object.keys(delta).length > 0 ? delta : undefined;
}

/** The metadata of a delta: "its values are equal to the metadata in the desired field". */
export function deltaMetadata(delta: JsonObject, desiredMeta: JsonObject | undefined): JsonObject {
  const meta: JsonObject = {};
  for (const [key, value] of Object.entries(delta)) {
    const source = desiredMeta === undefined ? undefined : getOwn(desiredMeta, key);
    if (source === undefined) continue;
    setOwn(meta, key, isObject(value) && isObject(source) ? deltaMetadata(value, source) : clone(source));
  }
  return meta;
}

/** Metadata of the fields named in a request (/accepted): a timestamp at every leaf, nulls included. */
export function patchMetadata(patch: StatePatch, timestamp: number): Record<string, JsonValue> {
  const mirror = (value: JsonObject): JsonObject => {
    const meta: JsonObject = {};
    for (const [key, child] of Object.entries(value)) setOwn(meta, key, isObject(child) ? mirror(child) : { timestamp });
    return meta;
  };
  const meta: Record<string, JsonValue> = {};
  for (const section of SECTIONS) {
    const value = patch[section];
    if (value === null) meta[section] = { timestamp };
    else if (value !== undefined) meta[section] = mirror(value);
  }
  return meta;
}
