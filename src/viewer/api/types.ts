/**
 * The API's answers as the web app receives them: one definition for the handler and the browser
 * (this file imports nothing, so the web app's DOM-only build can include it).
 */

export interface ImageRef {
  key: string;
  /** ISO time the snapshot was requested (from its time-sortable id). */
  at: string | null;
  bytes: number;
  imageUrl: string;
  thumbnailUrl: string;
  downloadUrl: string;
}

/** An event snapshot (docs/protocol.md §8): `at` is the event's time. */
export interface EventImageRef extends ImageRef {
  trigger: string;
  /** 'event': captured after the event; 'pre': the buffered frame nearest its time. */
  frame: 'event' | 'pre';
}

export interface CameraSummary {
  name: string;
  /** null: the camera never reported presence. */
  online: boolean | null;
  since: string | null;
  agentVersion: string | null;
  lastRequest: { id: string; status: string; error: string | null; at: string | null } | null;
  latest: ImageRef | null;
  /** What the camera last reported of live view (`reported.live`, src/protocol/live-request.ts LiveReport); null when it never did. */
  live: { state: 'off' | 'starting' | 'on' | 'failed'; viewers: number; maxViewers: number; since: string } | null;
}

/** `POST /api/cameras/{thing}/live`: what a browser needs to connect as a KVS VIEWER. */
export interface LiveGrant {
  channelArn: string;
  /** Presigned ConnectAsViewer WSS URL; a connection must start before expiresAt. */
  signalingUrl: string;
  clientId: string;
  /** RTCIceServer entries (GetIceServerConfig). */
  iceServers: { urls: string[]; username?: string; credential?: string }[];
  expiresAt: string;
}

/** A 409 from the live route: why there is no stream to join. */
export type LiveRefusalReason = 'offline' | 'too-many-viewers';

export interface Share {
  id: string;
  url: string;
  expiresAt: string;
}
