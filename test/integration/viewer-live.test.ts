/**
 * The viewer API's live route on devcloud, against the real KVS stand-in and broker (no mocks): the
 * presigned URL it hands a browser connects as VIEWER of the camera's own channel and reaches the
 * camera's MASTER (camera-1's role credentials from the IoT credentials provider, as the agent gets
 * them); the URL is the user's alone (another client id or a changed signature is refused); the camera
 * is asked over MQTT (cloudcam/{thing}/live/request, QoS 1); refusals when offline or at the viewer cap.
 * What the signalling endpoint does with forged and expired URLs in general (expiry to the second,
 * unsigned, a foreign channel) is test/integration/kvs-signalling.test.ts; AWS's own clients against
 * the stand-in, test/integration/kvs-control-plane.test.ts.
 */
import { readFile } from 'node:fs/promises';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchRoleCredentials } from '../../src/protocol/iot-credentials.js';
import { liveRequestTopic, parseLiveRequest, type LiveReport } from '../../src/protocol/live-request.js';
import { presignSignalingUrl } from '../../src/protocol/kvs-presign.js';
import { SignalingClient } from '../../src/protocol/kvs-signaling.js';
import { DEFAULT_SHADOW_NAME } from '../../src/protocol/topics.js';
import type { CameraSummary, LiveGrant } from '../../src/viewer/api/types.js';
import { startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { connectPeer, type TestPeer } from '../helpers/signaling-peer.js';

let t: TestDevcloud;
let ca: Buffer;
let observer: mqtt.MqttClient;
const requests: { topic: string; payload: string }[] = [];

const api = (p: string, method = 'POST', token: string | null = t.dc.viewer.issuer.accessToken()): Promise<Response> =>
  fetch(`${t.dc.viewer.url}${p}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
const report = (thing: string, reported: Record<string, unknown>): void => {
  t.dc.store.update({ thing, shadow: DEFAULT_SHADOW_NAME }, JSON.stringify({ state: { reported } }));
};
const live = (over: Partial<LiveReport>): LiveReport => ({ state: 'on', viewers: 1, maxViewers: 2, since: new Date().toISOString(), ...over });

async function refusal(url: string): Promise<number> {
  const err = (await SignalingClient.connect(url, { ca, onMessage: () => undefined }).then(
    (c) => {
      c.close();
      throw new Error('the connection was accepted');
    },
    (e: unknown) => e,
  )) as { status: number };
  return err.status;
}

beforeAll(async () => {
  t = await startTestDevcloud({ broker: 'aedes', cameras: 2 });
  ca = await readFile(t.dc.info.caPath);
  observer = await mqtt.connectAsync({ ...(await t.dc.broker.cloudClientOptions()), clientId: 'viewer-live-test' });
  observer.on('message', (topic, payload) => requests.push({ topic, payload: payload.toString('utf8') }));
  await observer.subscribeAsync('cloudcam/+/live/request', { qos: 1 });
});

afterAll(async () => {
  await observer?.endAsync();
  await t?.cleanup();
});

describe('POST /api/cameras/{thing}/live on devcloud', () => {
  it('refuses without a token (401) and for an offline or never-seen camera (409 offline), without asking the camera', async () => {
    expect((await api('/api/cameras/camera-1/live', 'POST', null)).status).toBe(401);
    report('camera-2', { connected: false });
    for (const thing of ['camera-1', 'camera-2']) {
      const res = await api(`/api/cameras/${thing}/live`);
      expect(res.status).toBe(409);
      expect(await res.json()).toMatchObject({ reason: 'offline' });
    }
    expect(t.dc.live.kvs.store.find({ name: 'cloudcam-camera-1' })).toBeUndefined();
    expect(requests).toEqual([]);
  });

  it('gives a URL that connects as VIEWER of the camera\'s channel and reaches the camera as MASTER; asks the camera over MQTT', async () => {
    report('camera-1', { connected: true });
    const res = await api('/api/cameras/camera-1/live');
    expect(res.status).toBe(200);
    const grant = (await res.json()) as LiveGrant;
    expect(grant.channelArn).toBe(t.dc.live.kvs.store.find({ name: 'cloudcam-camera-1' })?.arn);
    expect(grant.clientId).toMatch(/^viewer\.viewer\.[0-9a-f]{12}$/);
    expect(grant.iceServers).toEqual([]); // devcloud: no TURN on loopback (docs/protocol-live.md)
    const url = new URL(grant.signalingUrl);
    expect(url.origin.replace(/^wss:/, 'https:')).toBe(t.dc.info.live.kvs.signallingUrl);
    expect(Number(url.searchParams.get('X-Amz-Expires'))).toBeLessThanOrEqual(300);
    expect(Date.parse(grant.expiresAt) - Date.now()).toBeLessThanOrEqual(300_000);

    await expect.poll(() => requests.length).toBe(1);
    expect(requests[0]!.topic).toBe(liveRequestTopic('camera-1'));
    expect(parseLiveRequest(requests[0]!.payload).ok).toBe(true);

    // The camera, as the agent does it: role credentials from its own certificate, MASTER of its channel.
    const device = t.dc.info.devices['camera-1']!;
    const credentials = await fetchRoleCredentials({
      endpoint: t.dc.info.live.credentialsProvider.url,
      roleAlias: t.dc.info.live.credentialsProvider.roleAlias,
      thingName: 'camera-1',
      tls: { cert: await readFile(device.certPath), key: await readFile(device.keyPath), ca },
    });
    const masterEndpoint = `${t.dc.info.live.kvs.signallingUrl.replace(/^https:/, 'wss:')}/master`;
    const peers: TestPeer[] = [];
    try {
      const viewer = await connectPeer(grant.signalingUrl, ca);
      peers.push(viewer);
      viewer.client.send('SDP_OFFER', { type: 'offer', sdp: 'v=0' });
      const master = await connectPeer(await presignSignalingUrl({ endpoint: masterEndpoint, channelArn: grant.channelArn, role: 'MASTER', region: t.dc.info.live.kvs.region, credentials }), ca);
      peers.push(master);
      // Held for the channel's message TTL until the master connected (a browser may be first).
      expect(await master.next()).toEqual({ messageType: 'SDP_OFFER', senderClientId: grant.clientId, payload: { type: 'offer', sdp: 'v=0' } });
      master.client.send('SDP_ANSWER', { type: 'answer', sdp: 'v=0' }, { recipientClientId: grant.clientId });
      expect(await viewer.next()).toEqual({ messageType: 'SDP_ANSWER', payload: { type: 'answer', sdp: 'v=0' } });
    } finally {
      for (const p of peers) p.client.close();
    }
  });

  it("a grant is its user's alone: another client id or a changed signature is refused (403)", async () => {
    const grant = (await (await api('/api/cameras/camera-1/live')).json()) as LiveGrant;
    const other = new URL(grant.signalingUrl);
    other.searchParams.set('X-Amz-ClientId', 'viewer.someone-else.000000000000');
    expect(await refusal(other.toString())).toBe(403);
    const forged = new URL(grant.signalingUrl);
    const signature = forged.searchParams.get('X-Amz-Signature')!;
    forged.searchParams.set('X-Amz-Signature', `${signature[0] === 'a' ? 'b' : 'a'}${signature.slice(1)}`);
    expect(await refusal(forged.toString())).toBe(403);
  });

  it('409 too-many-viewers once the camera reports viewers at its maxViewers; the camera summary carries reported.live', async () => {
    report('camera-1', { connected: true, live: live({ viewers: 2, maxViewers: 2 }) });
    const before = requests.length;
    const res = await api('/api/cameras/camera-1/live');
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ reason: 'too-many-viewers' });
    expect(requests.length).toBe(before);
    const summary = (await (await api('/api/cameras/camera-1', 'GET')).json()) as CameraSummary;
    expect(summary).toMatchObject({ name: 'camera-1', online: true, live: { state: 'on', viewers: 2, maxViewers: 2 } });
  });

  it('makes the channel once when viewers press Live together on a new camera', async () => {
    report('camera-2', { connected: true });
    const answers = await Promise.all([1, 2, 3].map(() => api('/api/cameras/camera-2/live')));
    const grants = (await Promise.all(answers.map((r) => r.json()))) as LiveGrant[];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(new Set(grants.map((g) => g.channelArn)).size).toBe(1);
    expect(new Set(grants.map((g) => g.clientId)).size).toBe(3);
  });
});
