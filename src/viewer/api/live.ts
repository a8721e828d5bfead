import { randomBytes } from 'node:crypto';
import { channelNameOf, type LiveReport, type LiveRequest } from '../../protocol/live-request.js';
import type { Caller } from './auth.js';
import type { ShadowReader } from './fleet.js';
import type { LiveGrant, LiveRefusalReason } from './types.js';

/**
 * `POST /api/cameras/{thing}/live` (issue 22, docs/viewer.md "Live"): what a signed-in browser needs to
 * watch one camera, and the camera asked to go live. In order: the camera's named shadow says it is
 * online and below its viewer cap; its signalling channel exists (made on first use); a VIEWER URL is
 * presigned for this user (short expiry, a client id of the user's name + random); the ICE servers come
 * from GetIceServerConfig; and only then is the LiveRequest published, so a refused viewer never
 * wakes the camera.
 */

/** The KVS side (kvs.ts: @aws-sdk clients, the same code against AWS and devcloud's stand-in). */
export interface LiveSignalling {
  /** The channel's ARN, made SINGLE_MASTER when it does not exist yet (a concurrent create counts as existing). */
  ensureChannel(name: string): Promise<string>;
  /** GetSignalingChannelEndpoint for role VIEWER: the WSS and HTTPS endpoints. */
  viewerEndpoints(channelArn: string): Promise<{ wss: string; https: string }>;
  /** GetIceServerConfig on the channel's HTTPS endpoint, as RTCIceServer entries. */
  iceServers(channelArn: string, httpsEndpoint: string, clientId: string): Promise<IceServer[]>;
  /** A presigned ConnectAsViewer URL valid `expiresSeconds`. */
  presignViewer(opts: { endpoint: string; channelArn: string; clientId: string; expiresSeconds: number }): Promise<string>;
}

/** RTCIceServer as the browser takes it. */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** Publishes a LiveRequest on `cloudcam/{thing}/live/request`, QoS 1 (AWS: iot-data Publish; devcloud: its cloud MQTT client). */
export type LivePublisher = (thing: string, request: LiveRequest) => Promise<void>;

export interface LiveDeps {
  shadows: ShadowReader;
  signalling: LiveSignalling;
  publish: LivePublisher;
  now: () => Date;
  /** Life of the presigned URL (a new connection must start within it; an open one outlives it). At most 300. */
  urlSeconds?: number;
}

export const LIVE_URL_SECONDS = 300;

export class LiveRefusal extends Error {
  constructor(
    readonly reason: LiveRefusalReason,
    message: string,
  ) {
    super(message);
  }
}

/** What reported.live says, when it is a LiveReport at all (a camera writes it; anything else is ignored). */
export function liveReportOf(value: unknown): LiveReport | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  const { state, viewers, maxViewers, since } = r;
  if (state !== 'off' && state !== 'starting' && state !== 'on' && state !== 'failed') return undefined;
  if (!Number.isInteger(viewers) || !Number.isInteger(maxViewers) || typeof since !== 'string') return undefined;
  return { state, viewers: viewers as number, maxViewers: maxViewers as number, since, ...(typeof r['error'] === 'string' ? { error: r['error'] } : {}) };
}

/**
 * A KVS client id for this user: 1-256 of [a-zA-Z0-9_.-] (ConnectAsViewer). The user's name, other
 * characters replaced by `_`, cut to 64, after a fixed `viewer.` (so it never starts with `AWS_`), then
 * 12 random hex digits: each press of Live is its own client, and a second tab is a second viewer
 * rather than taking over the first one's connection.
 */
export function viewerClientId(caller: Caller): string {
  const name = caller.username.replace(/[^a-zA-Z0-9_.-]/g, '_').slice(0, 64) || 'unknown';
  return `viewer.${name}.${randomBytes(6).toString('hex')}`;
}

/** A request id the camera logs: time plus random, within LiveRequest's alphabet. */
function liveRequestId(at: Date): string {
  return `${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}-${randomBytes(4).toString('hex')}`;
}

export async function grantLive(thing: string, caller: Caller, deps: LiveDeps): Promise<LiveGrant> {
  const urlSeconds = Math.min(deps.urlSeconds ?? LIVE_URL_SECONDS, LIVE_URL_SECONDS);
  const reported = (await deps.shadows.get(thing))?.state?.reported ?? {};
  if (reported['connected'] !== true) throw new LiveRefusal('offline', `${thing} is offline: live view starts when the camera is connected again`);
  const live = liveReportOf(reported['live']);
  if (live !== undefined && live.state !== 'off' && live.viewers >= live.maxViewers) {
    throw new LiveRefusal('too-many-viewers', `${thing} already streams to ${live.viewers} viewers, its limit (live.maxViewers): try again when one has left`);
  }

  const channelArn = await deps.signalling.ensureChannel(channelNameOf(thing));
  const endpoints = await deps.signalling.viewerEndpoints(channelArn);
  const clientId = viewerClientId(caller);
  const at = deps.now();
  const [iceServers, signalingUrl] = await Promise.all([
    deps.signalling.iceServers(channelArn, endpoints.https, clientId),
    deps.signalling.presignViewer({ endpoint: endpoints.wss, channelArn, clientId, expiresSeconds: urlSeconds }),
  ]);
  await deps.publish(thing, { requestId: liveRequestId(at), at: at.toISOString() });
  return { channelArn, signalingUrl, clientId, iceServers, expiresAt: new Date(at.getTime() + urlSeconds * 1000).toISOString() };
}
