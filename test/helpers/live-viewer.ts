/**
 * A live-view VIEWER as the viewer API and a browser make one, in Node: the viewer API's key pair
 * (devcloud.json's dataPlane keys) creates the camera's channel if needed and presigns a
 * ConnectAsViewer URL; a werift RTCPeerConnection (receive only) offers H.264, trickles ICE and
 * counts the frames (RTP packets with the marker bit) that arrive. The cloud's LiveRequest goes over
 * devcloud's broker with the cloud identity, as the viewer API publishes it.
 */
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { CreateSignalingChannelCommand, DescribeSignalingChannelCommand, GetSignalingChannelEndpointCommand, KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { RTCPeerConnection, RTCRtpCodecParameters, type MediaStreamTrack } from 'werift';
import type { Devcloud } from '../../src/devcloud/devcloud.js';
import { channelNameOf, liveRequestTopic } from '../../src/protocol/live-request.js';
import { presignSignalingUrl } from '../../src/protocol/kvs-presign.js';
import { connectPeer, type TestPeer } from './signaling-peer.js';

export interface TestViewer {
  clientId: string;
  signalling: TestPeer;
  /** Every signalling message text the viewer received (for leak checks). */
  received: string[];
  /** Resolves with the answer's SDP; rejects after timeoutMs without one. */
  answer(timeoutMs?: number): Promise<string>;
  /** Resolves once `n` whole frames arrived. */
  frames(n: number, timeoutMs?: number): Promise<void>;
  readonly frameCount: number;
  /** Packets that carry an SPS or an IDR slice (a decoder can start there). */
  readonly keyframePackets: number;
  close(): Promise<void>;
}

function viewerApiClient(dc: Devcloud, ca: Buffer): { client: KinesisVideoClient; agent: https.Agent } {
  const agent = new https.Agent({ ca });
  const { accessKeyId, secretAccessKey } = dc.info.dataPlane;
  const client = new KinesisVideoClient({ endpoint: dc.info.live.kvs.controlUrl, region: dc.info.live.kvs.region, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1, requestHandler: { httpsAgent: agent } });
  return { client, agent };
}

/** The channel's ARN, created when it does not exist (what the viewer API does first). */
export async function ensureChannel(dc: Devcloud, thing: string): Promise<string> {
  const ca = await readFile(dc.info.caPath);
  const { client, agent } = viewerApiClient(dc, ca);
  try {
    try {
      return (await client.send(new DescribeSignalingChannelCommand({ ChannelName: channelNameOf(thing) }))).ChannelInfo!.ChannelARN!;
    } catch {
      return (await client.send(new CreateSignalingChannelCommand({ ChannelName: channelNameOf(thing) }))).ChannelARN!;
    }
  } finally {
    client.destroy();
    agent.destroy();
  }
}

/** Publishes a LiveRequest for `thing` as the cloud (devcloud's cloud identity). */
export async function requestLive(dc: Devcloud, thing: string, at = new Date()): Promise<string> {
  const client = await mqtt.connectAsync({ ...(await dc.broker.cloudClientOptions()), clientId: `cloudcam-devcloud-live-${randomBytes(3).toString('hex')}` });
  const requestId = `live-${randomBytes(4).toString('hex')}`;
  try {
    await client.publishAsync(liveRequestTopic(thing), JSON.stringify({ requestId, at: at.toISOString() }), { qos: 1 });
  } finally {
    await client.endAsync();
  }
  return requestId;
}

export async function connectViewer(dc: Devcloud, thing: string, clientId = `viewer-${randomBytes(3).toString('hex')}`): Promise<TestViewer> {
  const ca = await readFile(dc.info.caPath);
  const channelArn = await ensureChannel(dc, thing);
  const { client, agent } = viewerApiClient(dc, ca);
  const endpoint = (await client.send(new GetSignalingChannelEndpointCommand({ ChannelARN: channelArn, SingleMasterChannelEndpointConfiguration: { Protocols: ['WSS'], Role: 'VIEWER' } }))).ResourceEndpointList![0]!.ResourceEndpoint!;
  client.destroy();
  agent.destroy();
  const { accessKeyId, secretAccessKey } = dc.info.dataPlane;
  const url = await presignSignalingUrl({ endpoint, channelArn, role: 'VIEWER', clientId, region: dc.info.live.kvs.region, credentials: { accessKeyId, secretAccessKey } });
  const signalling = await connectPeer(url, ca);

  const pc = new RTCPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceUseIpv6: false,
    codecs: {
      video: [
        new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }], parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' }),
      ],
      audio: [],
    },
  });
  let frameCount = 0;
  let keyframePackets = 0;
  const frameWaiters: { n: number; resolve: () => void }[] = [];
  const transceiver = pc.addTransceiver('video', { direction: 'recvonly' });
  transceiver.onTrack.subscribe((track: MediaStreamTrack) => {
    track.onReceiveRtp.subscribe((rtp) => {
      const nal = (rtp.payload[0] ?? 0) & 0x1f;
      const inner = nal === 28 ? (rtp.payload[1] ?? 0) & 0x1f : nal === 24 ? (rtp.payload[3] ?? 0) & 0x1f : nal;
      if (inner === 5 || inner === 7) keyframePackets++;
      if (!rtp.header.marker) return;
      frameCount++;
      for (const w of frameWaiters.filter((x) => frameCount >= x.n)) {
        frameWaiters.splice(frameWaiters.indexOf(w), 1);
        w.resolve();
      }
    });
  });
  pc.onIceCandidate.subscribe((c) => {
    if (c?.candidate) signalling.client.send('ICE_CANDIDATE', { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex });
  });
  await pc.setLocalDescription(await pc.createOffer());
  signalling.client.send('SDP_OFFER', { type: 'offer', sdp: pc.localDescription!.sdp });

  const received: string[] = [];
  let answerSdp: Promise<string> | undefined;
  const answer = (timeoutMs = 15_000): Promise<string> =>
    (answerSdp ??= (async () => {
      const deadline = Date.now() + timeoutMs;
      const early: { candidate: string; sdpMid?: string; sdpMLineIndex?: number }[] = [];
      for (;;) {
        const m = await signalling.next(Math.max(1, deadline - Date.now()));
        received.push(JSON.stringify(m));
        const payload = m.payload as { type?: string; sdp?: string; candidate?: string; sdpMid?: string; sdpMLineIndex?: number } | undefined;
        if (m.messageType === 'ICE_CANDIDATE' && payload?.candidate) early.push({ candidate: payload.candidate, sdpMid: payload.sdpMid, sdpMLineIndex: payload.sdpMLineIndex });
        if (m.messageType === 'SDP_ANSWER' && payload?.sdp) {
          await pc.setRemoteDescription({ type: 'answer', sdp: payload.sdp });
          for (const c of early) await pc.addIceCandidate(c).catch(() => undefined);
          void pump();
          return payload.sdp;
        }
      }
    })());
  // After the answer: candidates as they come.
  async function pump(): Promise<void> {
    for (;;) {
      let m;
      try {
        m = await signalling.next(600_000);
      } catch {
        return;
      }
      received.push(JSON.stringify(m));
      const payload = m.payload as { candidate?: string; sdpMid?: string; sdpMLineIndex?: number } | undefined;
      if (m.messageType === 'ICE_CANDIDATE' && payload?.candidate) await pc.addIceCandidate({ candidate: payload.candidate, sdpMid: payload.sdpMid, sdpMLineIndex: payload.sdpMLineIndex }).catch(() => undefined);
    }
  }
  return {
    clientId,
    signalling,
    received,
    answer,
    frames: (n, timeoutMs = 15_000) =>
      frameCount >= n
        ? Promise.resolve()
        : new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`viewer ${clientId}: ${frameCount} of ${n} frames within ${timeoutMs} ms`)), timeoutMs);
            frameWaiters.push({
              n,
              resolve: () => {
                clearTimeout(timer);
                resolve();
              },
            });
          }),
    get frameCount() {
      return frameCount;
    },
    get keyframePackets() {
      return keyframePackets;
    },
    close: async () => {
      signalling.client.close();
      await pc.close();
    },
  };
}
