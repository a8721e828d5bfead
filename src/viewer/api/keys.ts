import { THING_NAME_PATTERN } from '../../protocol/topics.js';
import { parseEventKey, type EventFrame } from '../../protocol/upload-grant.js';

/**
 * The bucket's key layout as the viewer reads it: snapshots at `{thing}/yyyy/mm/dd/{id}.jpg` (the cloud
 * handler's snapshotKey), their thumbnails at `thumbnails/{snapshot key}`, revoked share ids at
 * `viewer/revoked/{id}`; event snapshots at `{thing}/events/yyyy/mm/dd/{stamp}-{trigger}[.pre].jpg`
 * (docs/protocol.md §8). Only pictures (snapshots and event snapshots) may be shared or thumbnailed.
 */

export const THUMBNAIL_PREFIX = 'thumbnails/';
export const REVOKED_PREFIX = 'viewer/revoked/';

const SNAPSHOT_KEY = /^([^/]+)\/(\d{4})\/(\d{2})\/(\d{2})\/([A-Za-z0-9_.:-]{1,64})\.jpg$/;
/** Request ids start with a compact UTC stamp (newRequestId): 20261201T043000123Z-ab12cd34. */
const ID_STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/;

export interface SnapshotKeyParts {
  thing: string;
  day: string;
  id: string;
}

export function parseSnapshotKey(key: string): SnapshotKeyParts | undefined {
  const m = SNAPSHOT_KEY.exec(key);
  if (!m || !THING_NAME_PATTERN.test(m[1]!) || m[1] === 'thumbnails' || m[1] === 'viewer') return undefined;
  return { thing: m[1]!, day: `${m[2]!}-${m[3]!}-${m[4]!}`, id: m[5]! };
}

export function isSnapshotKey(key: string): boolean {
  return parseSnapshotKey(key) !== undefined;
}

export interface EventKeyParts {
  thing: string;
  day: string;
  trigger: string;
  frame: EventFrame;
  /** The event's time, from the key's stamp. */
  at: Date;
}

const EVENT_DAY = /\/events\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{8}T\d{9}Z)-[^/]+$/;

export function parseEventPictureKey(key: string): EventKeyParts | undefined {
  const parts = parseEventKey(key);
  const m = EVENT_DAY.exec(key);
  const at = m ? requestedAt(m[4]!) : undefined;
  if (!parts || !m || !at) return undefined;
  return { ...parts, day: `${m[1]!}-${m[2]!}-${m[3]!}`, at };
}

/** A snapshot or an event snapshot: what may be thumbnailed and shared. */
export function pictureThing(key: string): string | undefined {
  return parseSnapshotKey(key)?.thing ?? parseEventPictureKey(key)?.thing;
}

export function isPictureKey(key: string): boolean {
  return pictureThing(key) !== undefined;
}

export function thumbnailKey(snapshotKey: string): string {
  return `${THUMBNAIL_PREFIX}${snapshotKey}`;
}

/** When the cloud handler asked for the snapshot, read from its time-sortable id. */
export function requestedAt(id: string): Date | undefined {
  const m = ID_STAMP.exec(id);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7]));
  return Number.isNaN(t) ? undefined : new Date(t);
}
