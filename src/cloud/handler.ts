import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { THING_NAME_PATTERN } from '../protocol/topics.js';
import type { SnapshotRequest } from '../protocol/snapshot.js';

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
  | { action: 'ignored'; thing: string; why: string };

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
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.(\d{3})Z$/, '$1Z');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

/** The `yyyy/mm/dd` (UTC) part of a snapshot key. */
export function snapshotDayPath(at: Date): string {
  const yyyy = String(at.getUTCFullYear());
  const mm = String(at.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(at.getUTCDate()).padStart(2, '0');
  return `${yyyy}/${mm}/${dd}`;
}

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
    // A shadow update merges objects key by key, so keys left in desired.snapshot by an earlier
    // request (or by anything else that wrote there) would ride along into this one (an old
    // resolution, a stray field that gets the request rejected). Delete it first, then write.
    // Deleting a desired key sends the device no delta.
    for (const snapshot of [null, request]) {
      await iotData.send(
        new UpdateThingShadowCommand({
          thingName: thing,
          shadowName: config.shadowName,
          payload: Buffer.from(JSON.stringify({ state: { desired: { snapshot } } })),
        }),
      );
    }
    return { action: 'requested', thing, request, key };
  }

  return {
    async handle(event) {
      if (!THING_NAME_PATTERN.test(event.thing)) return { action: 'ignored', thing: String(event.thing), why: 'invalid thing name' };
      if (event.kind === 'presence' && event.state !== 'online') {
        return { action: 'ignored', thing: event.thing, why: `presence ${event.state}` };
      }
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
