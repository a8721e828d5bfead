import { assertThingName } from './topics.js';

/**
 * The live-view contract between the cloud and a camera (issue 22, docs/protocol-live.md):
 *
 * - the viewer API asks a camera to go live by publishing a LiveRequest on `cloudcam/{thing}/live/request`
 *   (QoS 1) over the camera's existing MQTT connection; only the cloud may publish there (the device
 *   policy lets the camera subscribe and receive, never publish);
 * - the camera reports what live view is doing in its named shadow, `reported.live` (a LiveReport),
 *   which the viewer API reads to say "Too many viewers" before presigning a URL for one more.
 */

/** The channel a thing's live view uses: one SINGLE_MASTER signalling channel per camera. */
export function channelNameOf(thing: string): string {
  return `cloudcam-${thing}`;
}

export function liveRequestTopic(thing: string): string {
  assertThingName(thing);
  return `cloudcam/${thing}/live/request`;
}

export interface LiveRequest {
  /** 1-64 of [A-Za-z0-9_.:-], for the logs. */
  requestId: string;
  /** When the cloud asked (ISO 8601): a request older than LIVE_REQUEST_MAX_AGE_MS (e.g. redelivered after a long disconnect) is ignored. */
  at: string;
}

export const LIVE_REQUEST_MAX_AGE_MS = 60_000;

export type LiveState = 'off' | 'starting' | 'on' | 'failed';

/** `reported.live` in the camera's named shadow. */
export interface LiveReport {
  state: LiveState;
  /** Viewers with a connected peer connection now. */
  viewers: number;
  /** The camera's live.maxViewers: the viewer API refuses one more once viewers reaches it. */
  maxViewers: number;
  /** ISO 8601: when state last changed. */
  since: string;
  /** Why the last start failed, in words an operator can act on (never a URL or a credential). */
  error?: string;
}

const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The LiveRequest in an MQTT payload, or a reason it is not one (never quoting the payload). */
export function parseLiveRequest(payload: Buffer | string): { ok: true; value: LiveRequest } | { ok: false; error: string } {
  let input: unknown;
  try {
    input = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    return { ok: false, error: 'a live request must be a JSON object' };
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, error: 'a live request must be a JSON object' };
  const { requestId, at } = input as Record<string, unknown>;
  if (typeof requestId !== 'string' || !REQUEST_ID.test(requestId)) return { ok: false, error: 'requestId must be 1-64 of A-Z a-z 0-9 _ . : -' };
  if (typeof at !== 'string' || !Number.isFinite(Date.parse(at))) return { ok: false, error: 'at must be an ISO 8601 time' };
  return { ok: true, value: { requestId, at } };
}
