/**
 * The shadows of every thing, with the semantics of the AWS IoT Device Shadow service: versions,
 * optimistic locking, deletes that keep the version, and the response documents AWS sends. Protocol
 * bindings (MQTT, REST) call it and listen to its events; it does no I/O beyond optional persistence.
 */
import { EventEmitter } from 'node:events';
import {
  applyPatch,
  computeDelta,
  deltaMetadata,
  parseTokenRequest,
  parseUpdateRequest,
  patchMetadata,
  stateBytes,
  MAX_STATE_BYTES,
  checkClientToken,
  type JsonObject,
  type JsonValue,
  type Sections,
} from './document.js';
import { MESSAGES, ShadowError, noShadow } from './errors.js';
import { loadShadows, saveShadows, type PersistedShadow } from './persist.js';
import { SHADOW_NAME, THING_NAME, displayName, type ShadowKey } from './topics.js';

export { ShadowError } from './errors.js';
export type { ShadowKey } from './topics.js';

/** "If a device shadow document has been deleted for more than 48 hours", its version restarts. */
export const VERSION_MEMORY_MS = 48 * 60 * 60 * 1000;

interface ShadowRecord {
  state: Sections;
  metadata: Sections;
  version: number;
  deletedAt?: number;
}

/** get/accepted: the whole document, with the delta. */
export interface GetAccepted {
  state: Sections & { delta?: JsonObject };
  metadata: Sections;
  version: number;
  timestamp: number;
  clientToken?: string;
}

/** update/accepted: the fields of the request, their metadata, the new version. */
export interface UpdateAccepted {
  state: Record<string, JsonValue>;
  metadata: Record<string, JsonValue>;
  version: number;
  timestamp: number;
  clientToken?: string;
}

/** update/delta: every desired field that differs from reported. */
export interface DeltaDocument {
  state: JsonObject;
  metadata: JsonObject;
  version: number;
  timestamp: number;
  clientToken?: string;
}

export interface DocumentSnapshot {
  state: Sections;
  metadata: Sections;
  version: number;
}

/** update/documents: the shadow before (absent when it did not exist) and after the update. */
export interface UpdateDocuments {
  previous?: DocumentSnapshot;
  current: DocumentSnapshot;
  timestamp: number;
  clientToken?: string;
}

/** delete/accepted: the version of the deleted shadow. */
export interface DeleteAccepted {
  version: number;
  timestamp: number;
  clientToken?: string;
}

export interface UpdateResult {
  accepted: UpdateAccepted;
  delta?: DeltaDocument;
  documents: UpdateDocuments;
}

export interface ShadowStoreEvents {
  updated: [key: ShadowKey, result: UpdateResult];
  deleted: [key: ShadowKey, accepted: DeleteAccepted];
}

export interface ShadowStoreOptions {
  /** Where to keep the store across restarts; in memory only when absent. */
  persistPath?: string;
  /** Clock in ms since the epoch; tests pass a fixed one. */
  now?: () => number;
}

function mapKey(key: ShadowKey): string {
  return key.shadow === undefined ? key.thing : `${key.thing}\u0000${key.shadow}`;
}

function withToken<T extends object>(doc: T, clientToken: string | undefined): T & { clientToken?: string } {
  return clientToken === undefined ? doc : { ...doc, clientToken };
}

/** Rejects names AWS would not accept, before any lookup. */
export function checkKey(key: ShadowKey, clientToken?: string): void {
  if (!THING_NAME.test(key.thing)) {
    throw new ShadowError(400, `Invalid thing name '${key.thing}': use 1-128 characters of a-z A-Z 0-9 : _ -`, clientToken);
  }
  if (key.shadow !== undefined && !SHADOW_NAME.test(key.shadow)) {
    throw new ShadowError(400, `Invalid shadow name '${key.shadow}': use 1-64 characters of a-z A-Z 0-9 $ : _ -`, clientToken);
  }
}

export class ShadowStore extends EventEmitter<ShadowStoreEvents> {
  private readonly shadows = new Map<string, { key: ShadowKey; record: ShadowRecord }>();
  private readonly persistPath: string | undefined;
  private readonly now: () => number;

  constructor(opts: ShadowStoreOptions = {}) {
    super();
    this.persistPath = opts.persistPath;
    this.now = opts.now ?? Date.now;
    if (this.persistPath !== undefined) {
      for (const saved of loadShadows(this.persistPath)) {
        const key: ShadowKey = saved.shadow === undefined ? { thing: saved.thing } : { thing: saved.thing, shadow: saved.shadow };
        const record: ShadowRecord = { state: saved.state, metadata: saved.metadata, version: saved.version };
        if (saved.deletedAt !== undefined) record.deletedAt = saved.deletedAt;
        this.shadows.set(mapKey(key), { key, record });
      }
    }
  }

  /** The store's clock in epoch seconds, the unit of every `timestamp` in shadow documents. */
  seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** The live record, or undefined when the shadow does not exist (never created, or deleted). */
  private live(key: ShadowKey): ShadowRecord | undefined {
    const record = this.shadows.get(mapKey(key))?.record;
    return record === undefined || record.deletedAt !== undefined ? undefined : record;
  }

  /** The version a new shadow continues from: a shadow deleted under 48 hours ago keeps its count. */
  private baseVersion(key: ShadowKey): number {
    const record = this.shadows.get(mapKey(key))?.record;
    if (record === undefined) return 0;
    if (record.deletedAt !== undefined && this.now() - record.deletedAt > VERSION_MEMORY_MS) return 0;
    return record.version;
  }

  get(key: ShadowKey, clientToken?: string): GetAccepted {
    const token = checkClientToken(clientToken);
    checkKey(key, token);
    const record = this.live(key);
    if (record === undefined) throw noShadow(displayName(key), token);
    const state: GetAccepted['state'] = structuredClone(record.state);
    const delta = computeDelta(record.state.desired, record.state.reported);
    if (delta !== undefined) state.delta = delta;
    const doc: GetAccepted = {
      state,
      metadata: structuredClone(record.metadata),
      version: record.version,
      timestamp: this.seconds(),
    };
    return withToken(doc, token);
  }

  update(key: ShadowKey, request: Buffer | string): UpdateResult {
    const parsed = parseUpdateRequest(request);
    const token = parsed.clientToken;
    checkKey(key, token);
    const previous = this.live(key);
    const currentVersion = previous?.version ?? this.baseVersion(key);
    if (parsed.version !== undefined && parsed.version !== currentVersion) {
      throw new ShadowError(409, MESSAGES.versionConflict, token);
    }
    const timestamp = this.seconds();
    const next = applyPatch(previous ?? { state: {}, metadata: {} }, parsed.state, timestamp);
    if (stateBytes(next.state) > MAX_STATE_BYTES) throw new ShadowError(413, MESSAGES.tooLarge, token);

    const record: ShadowRecord = { ...next, version: currentVersion + 1 };
    this.shadows.set(mapKey(key), { key: { ...key }, record });
    this.save();

    const accepted: UpdateAccepted = withToken(
      { state: structuredClone(parsed.state), metadata: patchMetadata(parsed.state, timestamp), version: record.version, timestamp },
      token,
    );
    const documents: UpdateDocuments = withToken(
      {
        ...(previous === undefined ? {} : { previous: snapshot(previous) }),
        current: snapshot(record),
        timestamp,
      },
      token,
    );
    const result: UpdateResult = { accepted, documents };
    const delta = computeDelta(record.state.desired, record.state.reported);
    if (delta !== undefined) {
      result.delta = withToken(
        { state: delta, metadata: deltaMetadata(delta, record.metadata.desired), version: record.version, timestamp },
        token,
      );
    }
    this.emit('updated', { ...key }, result);
    return result;
  }

  delete(key: ShadowKey, request?: Buffer | string): DeleteAccepted {
    const token = parseTokenRequest(request);
    checkKey(key, token);
    const record = this.live(key);
    if (record === undefined) throw noShadow(displayName(key), token);
    // "Deleting a shadow does not reset its version number to 0": keep it as a tombstone.
    this.shadows.set(mapKey(key), { key: { ...key }, record: { state: {}, metadata: {}, version: record.version, deletedAt: this.now() } });
    this.save();
    const accepted: DeleteAccepted = withToken({ version: record.version, timestamp: this.seconds() }, token);
    this.emit('deleted', { ...key }, accepted);
    return accepted;
  }

  /** Names of the thing's named shadows, sorted; the classic shadow is not among them. */
  list(thing: string): string[] {
    checkKey({ thing });
    const names: string[] = [];
    for (const { key, record } of this.shadows.values()) {
      if (key.thing === thing && key.shadow !== undefined && record.deletedAt === undefined) names.push(key.shadow);
    }
    return names.sort();
  }

  private save(): void {
    if (this.persistPath === undefined) return;
    const all: PersistedShadow[] = [];
    const forgetBefore = this.now() - VERSION_MEMORY_MS;
    for (const { key, record } of this.shadows.values()) {
      if (record.deletedAt === undefined || record.deletedAt >= forgetBefore) all.push({ ...key, ...record });
    }
    saveShadows(this.persistPath, all);
  }
}

function snapshot(record: ShadowRecord): DocumentSnapshot {
  return { state: structuredClone(record.state), metadata: structuredClone(record.metadata), version: record.version };
}
