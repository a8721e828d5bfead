import type { LiveGrant } from './api.js';

/**
 * One attempt at watching a camera: a receive-only RTCPeerConnection and a WebSocket to the presigned
 * KVS VIEWER URL, speaking the KVS signalling messages (docs/protocol-live.md "Messages"; KVS WebRTC
 * developer guide, SendSdpOffer / SendIceCandidate / Asynchronous message reception): out
 * `{action, messagePayload: base64(JSON)}` (a viewer's message always goes to the master, so no
 * recipient), in `{senderClientId, messageType, messagePayload}`. No KVS SDK: the browser's own
 * WebSocket and RTCPeerConnection (DESIGN §8). The offer goes out at once and candidates trickle after
 * it, as the KVS SDK's viewer does; remote candidates before the answer wait for it.
 */

export interface PeerHandlers {
  stream(stream: MediaStream): void;
  connected(): void;
  /**
   * The attempt cannot go on (signalling closed before the media connected, GO_AWAY, ICE failed).
   * `signallingUnreachable`: the WebSocket closed without ever opening — a network, DNS or
   * certificate failure (a script is not told which).
   */
  lost(why: string, signallingUnreachable: boolean): void;
}

type Outgoing = 'SDP_OFFER' | 'ICE_CANDIDATE';

/** Longer than a brief network hiccup, shorter than a viewer's patience. */
const DISCONNECTED_GRACE_MS = 4000;

function decodePayload(raw: unknown): unknown {
  if (typeof raw !== 'string') return undefined;
  try {
    return JSON.parse(atob(raw));
  } catch {
    return undefined;
  }
}

export class LivePeer {
  private readonly pc: RTCPeerConnection;
  private readonly ws: WebSocket;
  private readonly unsent: string[] = [];
  private readonly remoteCandidates: RTCIceCandidateInit[] = [];
  private answered = false;
  private opened = false;
  private closed = false;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    grant: LiveGrant,
    private readonly on: PeerHandlers,
  ) {
    this.pc = new RTCPeerConnection({ iceServers: grant.iceServers });
    this.pc.addTransceiver('video', { direction: 'recvonly' });
    this.pc.ontrack = (e) => this.on.stream(e.streams[0] ?? new MediaStream([e.track]));
    this.pc.onicecandidate = (e) => {
      if (e.candidate) this.send('ICE_CANDIDATE', e.candidate.toJSON());
    };
    this.pc.onconnectionstatechange = () => this.connectionChanged();

    this.ws = new WebSocket(grant.signalingUrl);
    this.ws.onopen = () => {
      this.opened = true;
      for (const m of this.unsent.splice(0)) this.ws.send(m);
    };
    this.ws.onmessage = (e) => void this.received(e.data);
    this.ws.onclose = () => {
      // Once the media flows, signalling may end (KVS closes idle connections) without harm.
      if (this.closed || this.pc.connectionState === 'connected') return;
      if (this.opened) this.lose('the signalling connection closed before the camera answered');
      else this.lose(`this browser could not open the signalling connection to ${new URL(grant.signalingUrl).host}`, true);
    };
    void this.offer();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.graceTimer);
    this.ws.onclose = null;
    this.ws.close();
    this.pc.close();
  }

  private async offer(): Promise<void> {
    try {
      const offer = await this.pc.createOffer();
      await this.pc.setLocalDescription(offer);
      this.send('SDP_OFFER', { type: 'offer', sdp: offer.sdp });
    } catch (err) {
      this.lose(`the browser could not make an offer: ${(err as Error).message}`);
    }
  }

  private send(action: Outgoing, payload: unknown): void {
    if (this.closed) return;
    const message = JSON.stringify({ action, messagePayload: btoa(JSON.stringify(payload)) });
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(message);
    else this.unsent.push(message);
  }

  private async received(data: unknown): Promise<void> {
    if (this.closed || typeof data !== 'string' || data === '') return;
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return; // not the envelope: nothing to act on
    }
    const payload = decodePayload(message['messagePayload']);
    try {
      switch (message['messageType']) {
        case 'SDP_ANSWER':
          if (this.answered || typeof payload !== 'object' || payload === null) return;
          this.answered = true;
          await this.pc.setRemoteDescription(payload as RTCSessionDescriptionInit);
          for (const c of this.remoteCandidates.splice(0)) await this.pc.addIceCandidate(c);
          return;
        case 'ICE_CANDIDATE':
          if (typeof payload !== 'object' || payload === null) return;
          if (this.answered) await this.pc.addIceCandidate(payload);
          else this.remoteCandidates.push(payload);
          return;
        case 'GO_AWAY':
          this.lose('the signalling service closed the channel');
          return;
        default:
          return; // STATUS_RESPONSE (we send no correlation ids), RECONNECT_ICE_SERVER, an offer meant for a master
      }
    } catch (err) {
      this.lose(`the camera's answer was not usable: ${(err as Error).message}`);
    }
  }

  private connectionChanged(): void {
    const state = this.pc.connectionState;
    clearTimeout(this.graceTimer);
    if (state === 'connected') this.on.connected();
    else if (state === 'failed') this.lose('the connection to the camera failed');
    else if (state === 'disconnected') this.graceTimer = setTimeout(() => this.lose('the connection to the camera was lost'), DISCONNECTED_GRACE_MS);
  }

  private lose(why: string, signallingUnreachable = false): void {
    if (this.closed) return;
    this.close();
    this.on.lost(why, signallingUnreachable);
  }
}
