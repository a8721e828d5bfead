import { GetThingShadowCommand, ResourceNotFoundException, type IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { parseEnrolmentDay } from '../../cloud/enrolment-rules.js';
import type { SnapshotReport } from '../../protocol/snapshot.js';
import type { Bucket } from './bucket.js';
import { newestSnapshot } from './history.js';
import { imageRef } from './image-ref.js';
import { parseSnapshotKey } from './keys.js';
import { liveReportOf } from './live.js';
import type { CameraSummary } from './types.js';

export type { CameraSummary, ImageRef } from './types.js';

/**
 * The fleet page's data: which cameras exist (a ThingDirectory: iot:ListThings in AWS, devcloud's own
 * list locally), and per camera its named shadow (presence in `reported.connected` with its metadata
 * timestamp as "since", `reported.agentVersion`, the last request in `reported.snapshot`). One
 * GetThingShadow per camera on the page, in parallel: the data plane has no batch read. (AWS IoT fleet
 * indexing's SearchIndex would return a page of shadows in one call; docs/viewer.md.)
 */

/** What the registry says of one thing. */
export interface KnownThing {
  /** Start (UTC) of the day it enrolled by claim (the thing attribute enrolledAt); absent for things made by hand or before it was recorded. */
  enrolledAt?: Date;
}

export interface ThingDirectory {
  /** Thing names in a stable order, a page at a time; `next` is opaque. */
  list(opts: { limit: number; next?: string }): Promise<{ things: string[]; next?: string }>;
  /** undefined when there is no such thing (AWS: one DescribeThing). */
  describe(thing: string): Promise<KnownThing | undefined>;
}

/** The `enrolledAt` of a KnownThing from the attribute's stored value (ignored when it is not a valid day). */
export function knownThing(enrolledAt: string | undefined): KnownThing {
  const at = parseEnrolmentDay(enrolledAt);
  return at !== undefined ? { enrolledAt: at } : {};
}

/**
 * A fixed list of things (devcloud's cameras, or a test's); `enrolment` reads a thing's recorded
 * enrolment day (devcloud: identity/enrolments.ts).
 */
export function staticDirectory(names: () => readonly string[], enrolment: (thing: string) => Promise<string | undefined> = async () => undefined): ThingDirectory {
  return {
    async list({ limit, next }) {
      const all = [...names()].sort();
      const start = next === undefined ? 0 : all.findIndex((n) => n > next);
      const things = start === -1 ? [] : all.slice(start, start + limit);
      const last = things[things.length - 1];
      return start !== -1 && start + limit < all.length && last !== undefined ? { things, next: last } : { things };
    },
    async describe(thing) {
      return names().includes(thing) ? knownThing(await enrolment(thing)) : undefined;
    },
  };
}

interface ShadowDocument {
  state?: { reported?: Record<string, unknown> };
  metadata?: { reported?: Record<string, { timestamp?: number } | undefined> };
}

export interface ShadowReader {
  get(thing: string): Promise<ShadowDocument | undefined>;
}

export function dataPlaneShadows(client: IoTDataPlaneClient, shadowName: string): ShadowReader {
  return {
    async get(thing) {
      try {
        const out = await client.send(new GetThingShadowCommand({ thingName: thing, shadowName }));
        return out.payload ? (JSON.parse(Buffer.from(out.payload).toString('utf8')) as ShadowDocument) : undefined;
      } catch (err) {
        if (err instanceof ResourceNotFoundException) return undefined;
        throw err;
      }
    },
  };
}

function isReport(value: unknown): value is SnapshotReport {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return typeof r['id'] === 'string' && typeof r['status'] === 'string';
}

/**
 * The picture a camera's report names, if it may: an uploaded snapshot key under the camera's own
 * prefix. The camera writes `reported.snapshot` itself, so a key of another camera is a camera trying
 * to show another's picture as its own (issue 20): it is ignored, and `onIgnored` hears of it.
 */
function reportedPicture(thing: string, report: SnapshotReport | undefined, onIgnored: ((why: string) => void) | undefined): { key: string; bytes: number } | undefined {
  if (report?.status !== 'uploaded' || typeof report.key !== 'string') return undefined;
  const owner = parseSnapshotKey(report.key)?.thing;
  if (owner === thing) return { key: report.key, bytes: report.bytes };
  onIgnored?.(owner === undefined ? 'reported.snapshot.key is not a snapshot key' : `reported.snapshot.key is under another camera's prefix (${owner}/)`);
  return undefined;
}

export interface SummaryDeps {
  shadows: ShadowReader;
  bucket: Bucket;
  presignSeconds: number;
  now: Date;
  onIgnored?: (why: string) => void;
}

function liveSummary(value: unknown): CameraSummary['live'] {
  const live = liveReportOf(value);
  return live ? { state: live.state, viewers: live.viewers, maxViewers: live.maxViewers, since: live.since } : null;
}

export async function summarise(thing: string, deps: SummaryDeps): Promise<CameraSummary> {
  const doc = await deps.shadows.get(thing);
  const reported = doc?.state?.reported ?? {};
  const connected = reported['connected'];
  const sinceSeconds = doc?.metadata?.reported?.['connected']?.timestamp;
  const report = isReport(reported['snapshot']) ? reported['snapshot'] : undefined;
  // Without a usable report (the last request failed, or the key was refused): the newest snapshot in
  // the bucket, found in a bounded number of listings (history.ts), never by listing the whole prefix.
  const uploaded = reportedPicture(thing, report, deps.onIgnored) ?? (await newestSnapshot(deps.bucket, thing, deps.now));
  return {
    name: thing,
    online: typeof connected === 'boolean' ? connected : null,
    since: typeof sinceSeconds === 'number' ? new Date(sinceSeconds * 1000).toISOString() : null,
    agentVersion: typeof reported['agentVersion'] === 'string' ? reported['agentVersion'] : null,
    lastRequest: report ? { id: report.id, status: report.status, error: report.error ?? null, at: typeof report.at === 'string' ? report.at : null } : null,
    latest: uploaded ? await imageRef(deps.bucket, uploaded.key, uploaded.bytes, deps.presignSeconds) : null,
    live: liveSummary(reported['live']),
  };
}
