/**
 * Message routing on one signalling channel, as the KVS WebRTC developer guide describes it
 * (SendSdpOffer, SendSdpAnswer, SendIceCandidate, Asynchronous message reception, Disconnect):
 *
 * - a viewer's message always goes to the master (its recipientClientId is ignored); the master must
 *   name the viewer; no viewer reaches another viewer;
 * - delivered as `{senderClientId, messageType, messagePayload}`;
 * - a message for the master while none is connected is held for the channel's MessageTtlSeconds and
 *   delivered when a master connects (a viewer's offer may come before the camera);
 * - what cannot be delivered (a viewer that is not connected, a held message whose TTL ran out, a
 *   malformed message, too many messages) is answered with STATUS_RESPONSE, and only when the sender
 *   gave a correlationId, as the guide says;
 * - one master (SINGLE_MASTER) and one connection per viewer client id: the newest takes precedence,
 *   the one it replaces gets GO_AWAY and is closed.
 */
import type { Logger } from '../../lib/log.js';

export const ACTIONS = ['SDP_OFFER', 'SDP_ANSWER', 'ICE_CANDIDATE'] as const;
export type Action = (typeof ACTIONS)[number];
/** messagePayload: base64, 1 to 10K characters (developer guide, SendSdpOffer). */
export const MAX_PAYLOAD_CHARS = 10 * 1024;
const ID = /^[a-zA-Z0-9_.-]{1,256}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export interface Peer {
  /** undefined for the master. */
  readonly clientId: string | undefined;
  send(text: string): void;
  /** GO_AWAY, then close. */
  goAway(): void;
}

interface Held {
  text: string;
  expiresAt: number;
  sender: Peer;
  correlationId: string | undefined;
}

export interface StatusResponse {
  correlationId: string;
  errorType: string;
  statusCode: string;
  description: string;
}

/** Messages a connection may send per second, with bursts of twice that (AWS throttles per connection). */
export interface RateLimit {
  perSecond: number;
}

type Parsed = { ok: true; action: Action; payload: string; recipient: string | undefined; correlationId: string | undefined } | { ok: false; correlationId: string | undefined; why: string };

function parse(text: string): Parsed {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return { ok: false, correlationId: undefined, why: 'the message is not JSON' };
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return { ok: false, correlationId: undefined, why: 'the message is not a JSON object' };
  const { action, messagePayload, recipientClientId, correlationId } = message as Record<string, unknown>;
  const correlation = typeof correlationId === 'string' && ID.test(correlationId) ? correlationId : undefined;
  const fail = (why: string): Parsed => ({ ok: false, correlationId: correlation, why });
  if (correlationId !== undefined && correlation === undefined) return fail('correlationId must be 1-256 characters from [a-zA-Z0-9_.-]');
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) return fail(`action must be one of ${ACTIONS.join(', ')}`);
  if (typeof messagePayload !== 'string' || messagePayload.length === 0 || messagePayload.length > MAX_PAYLOAD_CHARS || !BASE64.test(messagePayload)) {
    return fail(`messagePayload must be base64, 1 to ${MAX_PAYLOAD_CHARS} characters`);
  }
  if (recipientClientId !== undefined && (typeof recipientClientId !== 'string' || !ID.test(recipientClientId))) return fail('recipientClientId must be 1-256 characters from [a-zA-Z0-9_.-]');
  return { ok: true, action: action as Action, payload: messagePayload, recipient: recipientClientId, correlationId: correlation };
}

export function statusResponse(status: StatusResponse): string {
  return JSON.stringify({ messageType: 'STATUS_RESPONSE', statusResponse: status });
}

export const GO_AWAY = JSON.stringify({ messageType: 'GO_AWAY' });

export class ChannelRouter {
  private master: Peer | undefined;
  private readonly viewers = new Map<string, Peer>();
  private held: Held[] = [];
  private readonly buckets = new WeakMap<Peer, { tokens: number; at: number }>();
  private readonly expiry: NodeJS.Timeout;

  constructor(
    private readonly opts: { ttlSeconds: number; rate: RateLimit; now: () => number; log: Logger },
  ) {
    // Held messages are few and short-lived: one sweep a second is exact enough for a TTL of >= 5 s.
    this.expiry = setInterval(() => this.expireHeld(), 1000);
    this.expiry.unref();
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  hasViewer(clientId: string): boolean {
    return this.viewers.has(clientId);
  }

  /** A new master replaces the old one; messages held for the master are delivered now. */
  attachMaster(peer: Peer): void {
    const old = this.master;
    this.master = peer;
    if (old) old.goAway();
    const held = this.held;
    this.held = [];
    for (const h of held) peer.send(h.text);
  }

  attachViewer(peer: Peer): void {
    if (peer.clientId === undefined) throw new Error('a viewer has a client id');
    const old = this.viewers.get(peer.clientId);
    this.viewers.set(peer.clientId, peer);
    if (old) old.goAway();
  }

  detach(peer: Peer): void {
    if (peer.clientId === undefined) {
      if (this.master === peer) this.master = undefined;
    } else if (this.viewers.get(peer.clientId) === peer) {
      this.viewers.delete(peer.clientId);
    }
  }

  /** Everyone gets GO_AWAY (the channel is deleted, or devcloud stops). */
  close(): void {
    clearInterval(this.expiry);
    this.master?.goAway();
    for (const v of this.viewers.values()) v.goAway();
    this.master = undefined;
    this.viewers.clear();
    this.held = [];
  }

  receive(sender: Peer, text: string): void {
    const parsed = parse(text);
    const refuse = (correlationId: string | undefined, errorType: string, statusCode: string, description: string): void => {
      this.opts.log.debug({ sender: sender.clientId ?? 'MASTER', errorType, description }, 'signalling message refused');
      if (correlationId !== undefined) sender.send(statusResponse({ correlationId, errorType, statusCode, description }));
    };
    if (!parsed.ok) return refuse(parsed.correlationId, 'InvalidArgumentException', '400', parsed.why);
    if (!this.take(sender)) return refuse(parsed.correlationId, 'ClientLimitExceededException', '400', `more than ${this.opts.rate.perSecond} messages a second on this connection`);
    const out = JSON.stringify({ ...(sender.clientId !== undefined ? { senderClientId: sender.clientId } : {}), messageType: parsed.action, messagePayload: parsed.payload });
    if (sender.clientId !== undefined) {
      if (this.master) return this.master.send(out);
      this.held.push({ text: out, expiresAt: this.opts.now() + this.opts.ttlSeconds * 1000, sender, correlationId: parsed.correlationId });
      return;
    }
    if (parsed.recipient === undefined) return refuse(parsed.correlationId, 'InvalidArgumentException', '400', 'the master must name the viewer in recipientClientId');
    const viewer = this.viewers.get(parsed.recipient);
    if (!viewer) return refuse(parsed.correlationId, 'InvalidArgumentException', '400', `no viewer with client id ${parsed.recipient} is connected to this channel`);
    viewer.send(out);
  }

  private take(peer: Peer): boolean {
    const now = this.opts.now();
    const burst = this.opts.rate.perSecond * 2;
    const bucket = this.buckets.get(peer) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * this.opts.rate.perSecond);
    bucket.at = now;
    this.buckets.set(peer, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private expireHeld(): void {
    const now = this.opts.now();
    const [expired, kept] = [this.held.filter((h) => h.expiresAt <= now), this.held.filter((h) => h.expiresAt > now)];
    this.held = kept;
    for (const h of expired) {
      if (h.correlationId === undefined || this.viewers.get(h.sender.clientId ?? '') !== h.sender) continue;
      h.sender.send(
        statusResponse({
          correlationId: h.correlationId,
          errorType: 'InvalidArgumentException',
          statusCode: '400',
          description: `no master connected within the channel's message TTL of ${this.opts.ttlSeconds} s`,
        }),
      );
    }
  }
}
