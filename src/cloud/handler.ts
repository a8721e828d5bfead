import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { THING_NAME_PATTERN } from '../protocol/topics.js';
import type { SnapshotRequest } from '../protocol/snapshot.js';
import {
  EVENT_KEY_FUTURE_MS,
  EVENT_KEY_PAST_DAYS,
  EVENT_META_FIELDS,
  GRANT_REQUEST_REASON,
  MAX_GRANT_SECONDS,
  compactStamp,
  eventKeyDatePrefix,
  eventKeyPrefix,
  utcDayPath,
  type UploadGrant,
} from '../protocol/upload-grant.js';

/**
 * The cloud handler: the code that runs as the Lambda in AWS and inside devcloud. Given a thing that
 * came online or asked for a snapshot, it presigns an S3 POST for one key and writes it into the
 * thing's named shadow as `desired.snapshot`. Only endpoints differ between AWS and devcloud.
 */

export interface CloudHandlerConfig {
  region: string;
  bucket: string;
  shadowName: string;
  /** Seconds the presigned POST stays valid. Short: the device acts on it at once or reports it expired. */
  expiresSeconds: number;
  maxBytes: number;
  /** Life of an upload grant (event snapshots), at most MAX_GRANT_SECONDS; default MAX_GRANT_SECONDS. */
  grantSeconds?: number;
  /** Optional VAPIX overrides put into every request. */
  resolution?: string;
  compression?: number;
  /** Set for devcloud (or any S3-compatible endpoint); path-style addressing is used then. */
  s3Endpoint?: string;
  /** Set for devcloud; in AWS the SDK finds the account's data endpoint from the region. */
  iotDataEndpoint?: string;
  /** Static credentials (devcloud); in AWS the default provider chain (the Lambda role) is used. */
  credentials?: AwsCredentialIdentity;
}

/** What triggers the handler: the IoT rules' SQL shapes (src/cloud/topic-rules.ts, deployed by infra/). */
export type CloudEvent =
  | { kind: 'presence'; thing: string; state: string }
  | { kind: 'snapshot'; thing: string; reason?: string };

export type HandleResult =
  | { action: 'requested'; thing: string; request: SnapshotRequest; key: string }
  | { action: 'granted'; thing: string; grant: UploadGrant }
  | { action: 'ignored'; thing: string; why: string };

/** Why a result is not a snapshot request, for an error message. */
export function whyNotRequested(result: Exclude<HandleResult, { action: 'requested' }>): string {
  return result.action === 'ignored' ? result.why : `${result.action} instead (reason "${GRANT_REQUEST_REASON}")`;
}

export interface CloudHandler {
  handle(event: CloudEvent): Promise<HandleResult>;
  destroy(): void;
}

/**
 * Request ids sort by time, so the newest snapshot of a thing is the greatest key under its prefix
 * (`cloudcam snapshot latest`). Milliseconds are part of the stamp: two requests in the same second
 * (presence and an operator's, say) would otherwise be ordered by their random suffix.
 */
export function newRequestId(now: Date): string {
  return `${compactStamp(now)}-${randomBytes(4).toString('hex')}`;
}

/** The `yyyy/mm/dd` (UTC) part of a snapshot key. */
export const snapshotDayPath = utcDayPath;

export function snapshotKey(thing: string, id: string, now: Date): string {
  return `${thing}/${snapshotDayPath(now)}/${id}.jpg`;
}

/** The S3 client of a handler config: path-style against an endpoint override (devcloud), else AWS. */
export function createS3Client(config: Pick<CloudHandlerConfig, 'region' | 'credentials' | 's3Endpoint'>): S3Client {
  return new S3Client({
    region: config.region,
    ...(config.credentials ? { credentials: config.credentials } : {}),
    ...(config.s3Endpoint ? { endpoint: config.s3Endpoint, forcePathStyle: true } : {}),
  });
}

export function createCloudHandler(config: CloudHandlerConfig, now: () => Date = () => new Date()): CloudHandler {
  const common = { region: config.region, ...(config.credentials ? { credentials: config.credentials } : {}) };
  const s3 = createS3Client(config);
  const iotData = new IoTDataPlaneClient({
    ...common,
    ...(config.iotDataEndpoint ? { endpoint: config.iotDataEndpoint } : {}),
  });

  async function requestSnapshot(thing: string): Promise<HandleResult> {
    const at = now();
    const id = newRequestId(at);
    const key = snapshotKey(thing, id, at);
    const post = await createPresignedPost(s3, {
      Bucket: config.bucket,
      Key: key,
      Conditions: [
        ['content-length-range', 1, config.maxBytes],
        ['eq', '$Content-Type', 'image/jpeg'],
      ],
      Fields: { 'Content-Type': 'image/jpeg' },
      Expires: config.expiresSeconds,
    });
    const request: SnapshotRequest = {
      id,
      url: post.url,
      fields: post.fields,
      expiresAt: new Date(at.getTime() + config.expiresSeconds * 1000).toISOString(),
      maxBytes: config.maxBytes,
      ...(config.resolution !== undefined ? { resolution: config.resolution } : {}),
      ...(config.compression !== undefined ? { compression: config.compression } : {}),
    };
    await writeDesired(thing, 'snapshot', request);
    return { action: 'requested', thing, request, key };
  }

  /**
   * A shadow update merges objects key by key, so keys left in a desired object by an earlier write
   * (an old resolution, an old session token) would ride along into the new one. Delete it first,
   * then write. Deleting a desired key sends the device no delta.
   */
  async function writeDesired(thing: string, name: 'snapshot' | 'uploadGrant', value: object): Promise<void> {
    for (const v of [null, value]) {
      await iotData.send(
        new UpdateThingShadowCommand({
          thingName: thing,
          shadowName: config.shadowName,
          payload: Buffer.from(JSON.stringify({ state: { desired: { [name]: v } } })),
        }),
      );
    }
  }

  /**
   * A standing grant for event snapshots: keys under `{thing}/events/` dated as S3 can bound it (the
   * prefix every day from EVENT_KEY_PAST_DAYS back to a day past the grant's expiry shares; the SDK
   * turns the `${filename}` key into a starts-with condition), JPEG only, the size range, and the
   * event metadata fields, each covered by a starts-with condition so the device may set their values.
   */
  async function issueGrant(thing: string): Promise<HandleResult> {
    const at = now();
    const seconds = Math.min(config.grantSeconds ?? MAX_GRANT_SECONDS, MAX_GRANT_SECONDS);
    const keyPrefix = eventKeyPrefix(thing);
    const dated = eventKeyDatePrefix(thing, new Date(at.getTime() - EVENT_KEY_PAST_DAYS * 24 * 3600 * 1000), new Date(at.getTime() + seconds * 1000 + EVENT_KEY_FUTURE_MS));
    const post = await createPresignedPost(s3, {
      Bucket: config.bucket,
      Key: `${dated}\${filename}`,
      Conditions: [
        ['content-length-range', 1, config.maxBytes],
        ['eq', '$Content-Type', 'image/jpeg'],
        ...Object.values(EVENT_META_FIELDS).map((field) => ['starts-with', `$${field}`, ''] as ['starts-with', string, string]),
      ],
      Fields: { 'Content-Type': 'image/jpeg' },
      Expires: seconds,
    });
    const grant: UploadGrant = {
      url: post.url,
      fields: post.fields,
      keyPrefix,
      expiresAt: new Date(at.getTime() + seconds * 1000).toISOString(),
      maxBytes: config.maxBytes,
    };
    await writeDesired(thing, 'uploadGrant', grant);
    return { action: 'granted', thing, grant };
  }

  return {
    async handle(event) {
      if (!THING_NAME_PATTERN.test(event.thing)) return { action: 'ignored', thing: String(event.thing), why: 'invalid thing name' };
      if (event.kind === 'presence' && event.state !== 'online') {
        return { action: 'ignored', thing: event.thing, why: `presence ${event.state}` };
      }
      if (event.kind === 'snapshot' && event.reason === GRANT_REQUEST_REASON) return issueGrant(event.thing);
      return requestSnapshot(event.thing);
    },
    destroy() {
      s3.destroy();
      iotData.destroy();
    },
  };
}

/** Reads an IoT rule's event (`SELECT *, topic(2) AS thing, topic(3) AS kind FROM 'cloudcam/+/#'`). */
export function parseCloudEvent(input: unknown): CloudEvent | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const e = input as Record<string, unknown>;
  const thing = e['thing'];
  if (typeof thing !== 'string') return undefined;
  if (e['kind'] === 'presence' && typeof e['state'] === 'string') return { kind: 'presence', thing, state: e['state'] };
  if (e['kind'] === 'snapshot') return { kind: 'snapshot', thing, ...(typeof e['reason'] === 'string' ? { reason: e['reason'] } : {}) };
  return undefined;
}
