/**
 * One viewer's WebRTC peer connection (werift): answers the viewer's offer with one send-only H.264
 * track, trickles ICE both ways, forwards the camera's RTP packets (werift rewrites only SSRC, payload
 * type and sequence numbers, as the negotiated stream needs) from the first keyframe on, and turns
 * the viewer's picture-loss requests into `onKeyframeWanted`. ICE servers are only those KVS gave
 * (werift's default public STUN server is never used).
 */
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, type RTCIceCandidate } from 'werift';
import type { RtcIceServer } from '../../../protocol/kvs-api.js';
import type { RtpPacket } from '../../../protocol/rtsp/rtp.js';
import { chooseH264Answer } from './h264-offer.js';

export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

export interface ViewerPeerOptions {
  offerSdp: string;
  iceServers: RtcIceServer[];
  /** From the camera's SPS (or its SDP). */
  cameraProfileLevelId: string;
  /** Loopback host candidates for devcloud (chromium reaches a peer's 127.0.0.1 candidate; DESIGN §8). */
  additionalHostAddresses: string[];
  onCandidate(candidate: IceCandidateInit): void;
  /** connected: media can flow; gone: failed or closed (the peer is finished). */
  onState(state: 'connected' | 'gone', why: string): void;
  onKeyframeWanted(): void;
}

export interface ViewerPeer {
  readonly answerSdp: string;
  /** Whether the answer carries the camera's profile or the viewer's Constrained Baseline entry. */
  readonly cameraProfile: boolean;
  addCandidate(candidate: IceCandidateInit): Promise<void>;
  forward(packet: RtpPacket): void;
  close(): Promise<void>;
}

export class OfferError extends Error {
  override readonly name = 'OfferError';
}

/** How long a peer may sit in `disconnected` before it counts as gone (ICE may recover within it). */
const DISCONNECTED_GRACE_MS = 8000;
/**
 * A receiving peer sends RTCP receiver reports every second or so (RFC 3550 §6.2; chromium and werift
 * both do); this long without any RTCP means the viewer is gone (a closed tab, a lost network), which
 * neither KVS signalling nor ICE tells the master promptly.
 */
export const RTCP_SILENCE_MS = 5000;

export async function createViewerPeer(opts: ViewerPeerOptions): Promise<ViewerPeer> {
  const choice = chooseH264Answer(opts.offerSdp, opts.cameraProfileLevelId);
  if (!choice) throw new OfferError('the offer has no H.264 video with packetization-mode 1');
  const codec = new RTCRtpCodecParameters({
    mimeType: 'video/H264',
    clockRate: 90000,
    payloadType: choice.payloadType,
    rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    parameters: `level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=${choice.profileLevelId}`,
  });
  const pc = new RTCPeerConnection({
    iceServers: opts.iceServers.map((s) => ({ urls: s.urls, ...(s.username !== undefined ? { username: s.username } : {}), ...(s.credential !== undefined ? { credential: s.credential } : {}) })),
    codecs: { video: [codec], audio: [] },
    iceAdditionalHostAddresses: opts.additionalHostAddresses,
    iceUseIpv6: false,
  });
  let gone = false;
  /** RTP written before DTLS is up is dropped by werift: forwarding starts once connected. */
  let connected = false;
  let graceTimer: NodeJS.Timeout | undefined;
  let lastRtcp = 0;
  let silenceTimer: NodeJS.Timeout | undefined;
  const finish = (why: string): void => {
    if (gone) return;
    gone = true;
    clearTimeout(graceTimer);
    clearInterval(silenceTimer);
    opts.onState('gone', why);
  };
  pc.onIceCandidate.subscribe((c: RTCIceCandidate | undefined) => {
    if (c?.candidate) opts.onCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null });
  });
  pc.connectionStateChange.subscribe((state) => {
    if (state === 'connected') {
      clearTimeout(graceTimer);
      graceTimer = undefined;
      if (gone) return;
      const first = !connected;
      connected = true;
      opts.onState('connected', state);
      // The viewer can start only at a keyframe: ask for one now rather than wait for the camera's GOP.
      if (first) {
        opts.onKeyframeWanted();
        lastRtcp = Date.now();
        silenceTimer = setInterval(() => {
          if (Date.now() - lastRtcp > RTCP_SILENCE_MS) finish(`no RTCP from the viewer for ${RTCP_SILENCE_MS / 1000} s`);
        }, 1000);
        silenceTimer.unref();
      }
    } else if (state === 'failed' || state === 'closed') {
      finish(state);
    } else if (state === 'disconnected' && !graceTimer) {
      graceTimer = setTimeout(() => finish('disconnected'), DISCONNECTED_GRACE_MS);
      graceTimer.unref();
    }
  });

  const track = new MediaStreamTrack({ kind: 'video' });
  try {
    await pc.setRemoteDescription({ type: 'offer', sdp: choice.sdp });
    const transceiver = pc.getTransceivers().find((t) => t.kind === 'video');
    if (!transceiver) throw new OfferError('the offer has no video section');
    transceiver.setDirection('sendonly');
    await transceiver.sender.replaceTrack(track);
    transceiver.sender.onPictureLossIndication.subscribe(() => opts.onKeyframeWanted());
    transceiver.sender.onRtcp.subscribe(() => {
      lastRtcp = Date.now();
    });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    // A browser closing its peer connection sends a DTLS close_notify: the viewer is gone at once.
    transceiver.dtlsTransport?.onStateChange.subscribe((s) => {
      if (s === 'closed' || s === 'failed') finish(`DTLS ${s}`);
    });
  } catch (err) {
    await pc.close().catch(() => undefined);
    throw err instanceof OfferError ? err : new OfferError(`cannot answer the offer: ${(err as Error).message}`);
  }
  const answerSdp = pc.localDescription?.sdp ?? '';
  let started = false;
  return {
    answerSdp,
    cameraProfile: choice.cameraProfile,
    addCandidate: async (c) => {
      if (gone || typeof c.candidate !== 'string' || c.candidate.length > 1024) return;
      await pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined });
    },
    forward: (packet) => {
      if (gone || !connected) return;
      // A decoder can start only at a keyframe: what comes before it would be dropped by the viewer anyway.
      if (!started) {
        if (!packet.keyframe) return;
        started = true;
      }
      track.writeRtp(packet.packet);
    },
    close: async () => {
      finish('closed by the agent');
      track.stop();
      await pc.close().catch(() => undefined);
    },
  };
}
