/**
 * A viewer of a devcloud camera's live view, for `make test-package` and `make bench-live`: asks the
 * camera to go live as the viewer API does (the channel made sure of with the KinesisVideo control
 * plane, ICE servers from GetIceServerConfig, a VIEWER URL presigned with the cloud principal's key
 * pair — devcloud.json's dataPlane keys —, the LiveRequest published on the camera's request topic),
 * then watches in headless chromium with the native RTCPeerConnection and WebSocket only (what the
 * viewer's browser uses). The page reads each frame's capture time from the camera's SEI message
 * (an encoded-frame transform keyed by RTP timestamp) and the decode time from
 * requestVideoFrameCallback, so glass-to-glass latency is measured in the browser that decodes.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { CreateSignalingChannelCommand, DescribeSignalingChannelCommand, GetSignalingChannelEndpointCommand, KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { GetIceServerConfigCommand, KinesisVideoSignalingClient } from '@aws-sdk/client-kinesis-video-signaling';
import mqtt from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import type { DevcloudInfo } from '../devcloud/info.js';
import { channelNameOf, liveRequestTopic, type LiveRequest } from '../protocol/live-request.js';
import { presignSignalingUrl } from '../protocol/kvs-presign.js';
import { launchChromium } from './chromium.js';

export interface LiveTarget {
  signalingUrl: string;
  iceServers: { urls: string | string[]; username?: string; credential?: string }[];
  clientId: string;
}

/** What one watch saw. Times are epoch milliseconds (Date.now() of this host; the browser's clock is the same machine's). */
export interface WatchResult {
  /** When the first frame was decoded and presented, or undefined if none came in time. */
  firstFrameAt: number | undefined;
  frames: number;
  width: number;
  height: number;
  /** Per decoded frame whose capture time was found: presented - captured (ms). */
  latenciesMs: number[];
  /** Why the page gave up, if it did. */
  error?: string;
}

async function controlClients(info: DevcloudInfo, ca: Buffer): Promise<{ kvs: KinesisVideoClient; agent: https.Agent }> {
  const agent = new https.Agent({ ca });
  const { accessKeyId, secretAccessKey } = info.dataPlane;
  const kvs = new KinesisVideoClient({ endpoint: info.live.kvs.controlUrl, region: info.live.kvs.region, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1, requestHandler: { httpsAgent: agent } });
  return { kvs, agent };
}

/**
 * What POST /api/cameras/{id}/live does for a signed-in user: the channel (Describe, else Create),
 * GetIceServerConfig, a presigned VIEWER URL with a client id of its own. No LiveRequest yet: goLive().
 */
export async function viewerTarget(info: DevcloudInfo, thing: string): Promise<LiveTarget> {
  const ca = await readFile(info.caPath);
  const { kvs, agent } = await controlClients(info, ca);
  const credentials = { accessKeyId: info.dataPlane.accessKeyId, secretAccessKey: info.dataPlane.secretAccessKey };
  try {
    const ChannelName = channelNameOf(thing);
    const channelArn = await kvs
      .send(new DescribeSignalingChannelCommand({ ChannelName }))
      .then((r) => r.ChannelInfo?.ChannelARN)
      .catch(async () => (await kvs.send(new CreateSignalingChannelCommand({ ChannelName }))).ChannelARN);
    if (!channelArn) throw new Error(`KVS gave no channel ARN for ${ChannelName}`);
    const endpoints = await kvs.send(new GetSignalingChannelEndpointCommand({ ChannelARN: channelArn, SingleMasterChannelEndpointConfiguration: { Protocols: ['WSS', 'HTTPS'], Role: 'VIEWER' } }));
    const endpointOf = (p: string): string => {
      const e = endpoints.ResourceEndpointList?.find((x) => x.Protocol === p)?.ResourceEndpoint;
      if (!e) throw new Error(`GetSignalingChannelEndpoint gave no ${p} endpoint`);
      return e;
    };
    const clientId = `bench-${randomBytes(6).toString('hex')}`;
    const signalling = new KinesisVideoSignalingClient({ endpoint: endpointOf('HTTPS'), region: info.live.kvs.region, credentials, maxAttempts: 1, requestHandler: { httpsAgent: agent } });
    const ice = await signalling.send(new GetIceServerConfigCommand({ ChannelARN: channelArn, ClientId: clientId })).finally(() => signalling.destroy());
    const iceServers = (ice.IceServerList ?? []).map((s) => ({ urls: s.Uris ?? [], ...(s.Username ? { username: s.Username } : {}), ...(s.Password ? { credential: s.Password } : {}) }));
    const signalingUrl = await presignSignalingUrl({ endpoint: endpointOf('WSS'), channelArn, role: 'VIEWER', clientId, region: info.live.kvs.region, credentials, expiresSeconds: 300 });
    return { signalingUrl, iceServers, clientId };
  } finally {
    kvs.destroy();
    agent.destroy();
  }
}

/** Publishes a LiveRequest for `thing` as the cloud does (QoS 1, devcloud's cloud identity). Resolves once the broker has it. */
export async function goLive(info: DevcloudInfo, thing: string): Promise<void> {
  const [ca, cert, key] = await Promise.all([readFile(info.caPath), readFile(info.cloud.certPath), readFile(info.cloud.keyPath)]);
  const client = await mqtt.connectAsync(info.mqtt.url, { ca, cert, key, clientId: `${info.cloud.clientId}-live-${randomBytes(4).toString('hex')}`, reconnectPeriod: 0, connectTimeout: 10_000 });
  try {
    const request: LiveRequest = { requestId: `bench-${randomBytes(6).toString('hex')}`, at: new Date().toISOString() };
    await client.publishAsync(liveRequestTopic(thing), JSON.stringify(request), { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

/** The certificate a TLS endpoint presents (DER), checked against `ca`: the one chromium must trust by its key. */
async function certificateOf(url: string, ca: Buffer): Promise<Buffer> {
  const u = new URL(url);
  return new Promise<Buffer>((resolve, reject) => {
    const socket = tls.connect({ host: u.hostname, port: Number(u.port), ca, servername: u.hostname === '127.0.0.1' ? undefined : u.hostname }, () => {
      resolve(socket.getPeerCertificate().raw);
      socket.end();
    });
    socket.on('error', reject);
  });
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>live</title><body>
<script>
const WORKER = \`
const pipe = (readable, writable) => readable.pipeThrough(new TransformStream({ transform(frame, c) { report(frame); c.enqueue(frame); } })).pipeTo(writable);
onrtctransform = (e) => pipe(e.transformer.readable, e.transformer.writable);
onmessage = (e) => pipe(e.data.readable, e.data.writable);
const UUID = '5c1f0a7e3b9d4c21a8e6d0f2c4b61729';
function report(frame) {
  const d = new Uint8Array(frame.data);
  for (let i = 0; i + 4 < d.length; i++) {
    if (d[i] !== 0 || d[i + 1] !== 0 || d[i + 2] !== 1 || (d[i + 3] & 31) !== 6) continue;
    const rbsp = [];
    for (let j = i + 4, zeros = 0; j < d.length && rbsp.length < 40; j++) {
      if (zeros >= 2 && d[j] === 3) { zeros = 0; continue; }
      zeros = d[j] === 0 ? zeros + 1 : 0;
      rbsp.push(d[j]);
    }
    if (rbsp[0] !== 5 || rbsp[1] !== 28) continue;
    const uuid = rbsp.slice(2, 18).map((b) => b.toString(16).padStart(2, '0')).join('');
    if (uuid !== UUID) continue;
    let us = 0n;
    for (const b of rbsp.slice(18, 26)) us = (us << 8n) | BigInt(b);
    postMessage({ rtpTimestamp: frame.getMetadata().rtpTimestamp, captureMs: Number(us) / 1000 });
    return;
  }
}\`;
window.watch = (target, want, timeoutMs) => new Promise((resolve) => {
  const out = { firstFrameAt: undefined, frames: 0, width: 0, height: 0, latenciesMs: [] };
  const captured = new Map();
  const worker = new Worker(URL.createObjectURL(new Blob([WORKER], { type: 'text/javascript' })));
  worker.onmessage = (m) => { captured.set(m.data.rtpTimestamp, m.data.captureMs); if (captured.size > 600) captured.delete(captured.keys().next().value); };
  // Encoded frames (for the SEI): chromium's createEncodedStreams where it has it (RTCRtpScriptTransform
  // exists in chromium 156 but its transformer saw no frames here), the standard script transform elsewhere.
  const legacy = typeof RTCRtpReceiver.prototype.createEncodedStreams === 'function';
  const pc = new RTCPeerConnection({ iceServers: target.iceServers, ...(legacy ? { encodedInsertableStreams: true } : {}) });
  const ws = new WebSocket(target.signalingUrl);
  window.stopLive = () => { pc.close(); ws.close(); worker.terminate(); };
  let done = false;
  const finish = (error) => {
    if (done) return;
    done = true;
    if (error) out.error = error;
    resolve(out);
  };
  setTimeout(() => finish(out.frames === 0 ? 'no frame within ' + timeoutMs + ' ms' : undefined), timeoutMs);
  const send = (action, payload) => ws.send(JSON.stringify({ action, messagePayload: btoa(JSON.stringify(payload)) }));
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.onicecandidate = (e) => { if (e.candidate && ws.readyState === 1) send('ICE_CANDIDATE', e.candidate.toJSON()); };
  pc.ontrack = (e) => {
    if (legacy) {
      const { readable, writable } = e.receiver.createEncodedStreams();
      worker.postMessage({ readable, writable }, [readable, writable]);
    } else {
      e.receiver.transform = new RTCRtpScriptTransform(worker, {});
    }
    const video = document.createElement('video');
    video.muted = true; video.autoplay = true; video.playsInline = true;
    document.body.append(video);
    video.srcObject = new MediaStream([e.track]);
    const onFrame = (now, meta) => {
      const presented = performance.timeOrigin + meta.presentationTime;
      if (out.frames === 0) out.firstFrameAt = presented;
      out.frames++;
      out.width = meta.width; out.height = meta.height;
      const c = captured.get(meta.rtpTimestamp);
      if (c !== undefined) out.latenciesMs.push(presented - c);
      if (out.frames >= want) finish(); else video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
    video.play().catch(() => undefined);
  };
  ws.onmessage = async (m) => {
    let msg;
    try { msg = JSON.parse(m.data); } catch { return; }
    const payload = msg.messagePayload ? JSON.parse(atob(msg.messagePayload)) : undefined;
    if (msg.messageType === 'SDP_ANSWER') await pc.setRemoteDescription(payload);
    else if (msg.messageType === 'ICE_CANDIDATE' && payload) await pc.addIceCandidate(payload).catch(() => undefined);
  };
  ws.onerror = () => finish('signalling WebSocket failed');
  ws.onopen = async () => {
    await pc.setLocalDescription(await pc.createOffer());
    send('SDP_OFFER', pc.localDescription.toJSON());
  };
});
</script>`;

export interface LiveBrowser {
  /** Loads `n` viewer pages ahead, so a timed watch does not include opening a tab. */
  prepare(n: number): Promise<void>;
  /** Watches on a prepared page (or a new one) until `frames` frames were decoded or `timeoutMs` passed; the peer stays open until stopAll(). */
  watch(target: LiveTarget, frames: number, timeoutMs: number): Promise<WatchResult>;
  /** Closes every viewer's peer connection and signalling (the pages stay). */
  stopAll(): Promise<void>;
  close(): Promise<void>;
}

/** Headless Debian chromium trusting devcloud's signalling certificate (pinned by SPKI), with a local page (a secure context). */
export async function openLiveBrowser(info: DevcloudInfo): Promise<LiveBrowser> {
  const ca = await readFile(info.caPath);
  const signallingCertificate = await certificateOf(info.live.kvs.signallingUrl, ca);
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const pageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  let browser: Browser;
  try {
    // Autoplay without a gesture: the page plays what arrives, nobody clicks.
    browser = await launchChromium({ trustCertificates: [signallingCertificate], extraArgs: ['--autoplay-policy=no-user-gesture-required'] });
  } catch (e) {
    server.close();
    throw e;
  }
  const pages: Page[] = [];
  const ready: Page[] = [];
  const load = async (): Promise<Page> => {
    const page = await browser.newPage();
    pages.push(page);
    await page.goto(pageUrl);
    return page;
  };
  return {
    async prepare(n) {
      ready.push(...(await Promise.all(Array.from({ length: n }, load))));
    },
    async watch(target, frames, timeoutMs) {
      const page = ready.shift() ?? (await load());
      return page.evaluate(([t, n, ms]) => (globalThis as unknown as { watch: (t: unknown, n: number, ms: number) => Promise<WatchResult> }).watch(t, n, ms), [target, frames, timeoutMs] as const);
    },
    async stopAll() {
      const used = pages.filter((p) => !ready.includes(p));
      await Promise.all(used.map(async (p) => {
        // pc.close() first: the agent sees the viewer leave at once (DTLS close), not after ICE consent expires.
        await p.evaluate(() => (globalThis as unknown as { stopLive?: () => void }).stopLive?.());
        await p.close();
      }));
      pages.splice(0, pages.length, ...ready);
    },
    async close() {
      await browser.close();
      server.close();
    },
  };
}
