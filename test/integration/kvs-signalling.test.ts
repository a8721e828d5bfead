/**
 * devcloud's KVS signalling WebSocket endpoints with URLs presigned by the agent's own presigner
 * (@smithy/signature-v4) and the agent's signalling client. What AWS does, from the KVS WebRTC
 * developer guide: ConnectAsMaster / ConnectAsViewer (presigned X-Amz-ChannelARN, X-Amz-ClientId for
 * viewers; AccessDeniedException 403 "not authorized to access the given channel or the token has
 * expired"; ResourceNotFoundException 404; ClientLimitExceededException 400 past the viewer quota; the
 * newest master takes precedence), SendSdpOffer / SendSdpAnswer / SendIceCandidate (a viewer reaches
 * only the master, the master names the viewer), Asynchronous message reception (the envelope,
 * STATUS_RESPONSE for a message that carried a correlationId), Disconnect (GO_AWAY). Where devcloud
 * had to choose (which error a message to an absent viewer gets), docs/protocol-live.md says so.
 */
import { CreateSignalingChannelCommand, DeleteSignalingChannelCommand, GetSignalingChannelEndpointCommand, type KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { presignSignalingUrl, type SigningCredentials } from '../../src/protocol/kvs-presign.js';
import { SignalingClient } from '../../src/protocol/kvs-signaling.js';
import { MAX_VIEWERS_PER_CHANNEL } from '../../src/devcloud/kvs/signalling.js';
import { REGION, VIEWER_API, startLiveCloud, type LiveCloud } from '../helpers/live-cloud.js';
import { connectPeer, type TestPeer } from '../helpers/signaling-peer.js';

let cloud: LiveCloud;
let viewerApi: KinesisVideoClient;
let camera1: SigningCredentials;
let camera2: SigningCredentials;
const open: TestPeer[] = [];

beforeAll(async () => {
  cloud = await startLiveCloud({ rate: { perSecond: 20 } });
  viewerApi = cloud.kvsClient();
  [camera1, camera2] = await Promise.all([cloud.cameraCredentials('camera-1'), cloud.cameraCredentials('camera-2')]);
});

afterEach(() => {
  for (const peer of open.splice(0)) peer.client.close();
});

afterAll(async () => {
  viewerApi.destroy();
  await cloud.stop();
});

/** A fresh channel for camera-1 (each test its own: held messages and masters do not leak between tests). */
async function channelForCamera1(): Promise<string> {
  // The camera role reaches only cloudcam-camera-1: delete and create it again for each test.
  const existing = cloud.kvs.store.find({ name: 'cloudcam-camera-1' });
  if (existing) await viewerApi.send(new DeleteSignalingChannelCommand({ ChannelARN: existing.arn }));
  return (await viewerApi.send(new CreateSignalingChannelCommand({ ChannelName: 'cloudcam-camera-1', SingleMasterConfiguration: { MessageTtlSeconds: 5 } }))).ChannelARN!;
}

async function endpoint(channelArn: string, role: 'MASTER' | 'VIEWER'): Promise<string> {
  const { ResourceEndpointList } = await viewerApi.send(new GetSignalingChannelEndpointCommand({ ChannelARN: channelArn, SingleMasterChannelEndpointConfiguration: { Protocols: ['WSS'], Role: role } }));
  return ResourceEndpointList![0]!.ResourceEndpoint!;
}

async function masterUrl(channelArn: string, credentials: SigningCredentials = camera1, extra: { signingDate?: Date; expiresSeconds?: number } = {}): Promise<string> {
  return presignSignalingUrl({ endpoint: await endpoint(channelArn, 'MASTER'), channelArn, role: 'MASTER', region: REGION, credentials, ...extra });
}

async function viewerUrl(channelArn: string, clientId: string, credentials: SigningCredentials = VIEWER_API): Promise<string> {
  return presignSignalingUrl({ endpoint: await endpoint(channelArn, 'VIEWER'), channelArn, role: 'VIEWER', clientId, region: REGION, credentials });
}

async function peer(url: string): Promise<TestPeer> {
  const p = await connectPeer(url, cloud.ca);
  open.push(p);
  return p;
}

async function refusal(url: string): Promise<{ status: number; message: string }> {
  const err = (await SignalingClient.connect(url, { ca: cloud.ca, onMessage: () => undefined }).then(
    (c) => {
      c.close();
      throw new Error('the connection was accepted');
    },
    (e: unknown) => e,
  )) as Error & { status: number };
  return { status: err.status, message: err.message };
}

describe('routing', () => {
  it('carries offers and candidates from two viewers to the master, and each answer to its own viewer only', async () => {
    const arn = await channelForCamera1();
    const master = await peer(await masterUrl(arn));
    const [v1, v2] = [await peer(await viewerUrl(arn, 'viewer-1')), await peer(await viewerUrl(arn, 'viewer-2'))];

    v1.client.send('SDP_OFFER', { type: 'offer', sdp: 'v=0 offer-1' });
    expect(await master.next()).toEqual({ messageType: 'SDP_OFFER', senderClientId: 'viewer-1', payload: { type: 'offer', sdp: 'v=0 offer-1' } });
    // A viewer cannot address another viewer: recipientClientId is ignored and the master gets it.
    v2.client.send('ICE_CANDIDATE', { candidate: 'candidate:2' }, { recipientClientId: 'viewer-1' });
    expect(await master.next()).toEqual({ messageType: 'ICE_CANDIDATE', senderClientId: 'viewer-2', payload: { candidate: 'candidate:2' } });

    master.client.send('SDP_ANSWER', { type: 'answer', sdp: 'v=0 answer-1' }, { recipientClientId: 'viewer-1' });
    master.client.send('ICE_CANDIDATE', { candidate: 'to-2' }, { recipientClientId: 'viewer-2' });
    expect(await v1.next()).toEqual({ messageType: 'SDP_ANSWER', payload: { type: 'answer', sdp: 'v=0 answer-1' } });
    // viewer-2's first message is its own candidate: the answer to viewer-1 never reached it.
    expect(await v2.next()).toEqual({ messageType: 'ICE_CANDIDATE', payload: { candidate: 'to-2' } });
    expect(v1.queued).toEqual([]);
  });

  it('answers a message to a viewer that is not connected with STATUS_RESPONSE carrying its correlationId', async () => {
    const arn = await channelForCamera1();
    const master = await peer(await masterUrl(arn));
    master.client.send('SDP_ANSWER', { type: 'answer', sdp: 'v=0' }, { recipientClientId: 'viewer-gone', correlationId: 'answer-7' });
    const status = await master.next();
    expect(status.messageType).toBe('STATUS_RESPONSE');
    expect(status.statusResponse).toMatchObject({ correlationId: 'answer-7', statusCode: '400', errorType: 'InvalidArgumentException' });
    expect(status.statusResponse?.description).toContain('viewer-gone');
  });

  it('holds a viewer offer sent before the camera connects, and hands it to the master when it does', async () => {
    const arn = await channelForCamera1();
    const viewer = await peer(await viewerUrl(arn, 'early-viewer'));
    viewer.client.send('SDP_OFFER', { type: 'offer', sdp: 'early' }, { correlationId: 'offer-1' });
    const master = await peer(await masterUrl(arn));
    expect(await master.next()).toEqual({ messageType: 'SDP_OFFER', senderClientId: 'early-viewer', payload: { type: 'offer', sdp: 'early' } });
  });

  it('tells the viewer with STATUS_RESPONSE when no master came within the message TTL', async () => {
    const arn = await channelForCamera1(); // MessageTtlSeconds: 5, the API's minimum
    const viewer = await peer(await viewerUrl(arn, 'lonely-viewer'));
    viewer.client.send('SDP_OFFER', { type: 'offer', sdp: 'nobody' }, { correlationId: 'offer-2' });
    const status = await viewer.next(8000);
    expect(status).toMatchObject({ messageType: 'STATUS_RESPONSE', statusResponse: { correlationId: 'offer-2' } });
  });

  it('replaces the master with a newer one (SINGLE_MASTER): the old one gets GO_AWAY and is closed', async () => {
    const arn = await channelForCamera1();
    const first = await peer(await masterUrl(arn));
    const second = await peer(await masterUrl(arn));
    expect(await first.next()).toEqual({ messageType: 'GO_AWAY' });
    await first.closed;
    const viewer = await peer(await viewerUrl(arn, 'viewer-1'));
    viewer.client.send('SDP_OFFER', { type: 'offer', sdp: 'to the new master' });
    expect((await second.next()).payload).toEqual({ type: 'offer', sdp: 'to the new master' });
  });

  it('sends GO_AWAY to everyone on a channel that is deleted', async () => {
    const arn = await channelForCamera1();
    const master = await peer(await masterUrl(arn));
    const viewer = await peer(await viewerUrl(arn, 'viewer-1'));
    await viewerApi.send(new DeleteSignalingChannelCommand({ ChannelARN: arn }));
    expect(await master.next()).toEqual({ messageType: 'GO_AWAY' });
    expect(await viewer.next()).toEqual({ messageType: 'GO_AWAY' });
  });

  it('answers a malformed message and a flood with STATUS_RESPONSE, and keeps the connection', async () => {
    const arn = await channelForCamera1();
    const master = await peer(await masterUrl(arn));
    const viewer = await peer(await viewerUrl(arn, 'viewer-1'));
    master.client.send('ICE_CANDIDATE', { candidate: 'no recipient' }, { correlationId: 'bad-1' });
    expect(await master.next()).toMatchObject({ messageType: 'STATUS_RESPONSE', statusResponse: { correlationId: 'bad-1', errorType: 'InvalidArgumentException' } });
    // 20 a second with bursts of 40 (the fixture's rate): 60 at once must run into the limit.
    for (let i = 0; i < 60; i++) viewer.client.send('ICE_CANDIDATE', { candidate: `c${i}` }, { correlationId: `flood-${i}` });
    expect(await viewer.next()).toMatchObject({ messageType: 'STATUS_RESPONSE', statusResponse: { errorType: 'ClientLimitExceededException' } });
    // The viewer's connection is still there: the master reaches it.
    master.client.send('SDP_ANSWER', { type: 'answer', sdp: 'still here' }, { recipientClientId: 'viewer-1' });
    let received = await viewer.next();
    while (received.messageType === 'STATUS_RESPONSE') received = await viewer.next();
    expect(received).toEqual({ messageType: 'SDP_ANSWER', payload: { type: 'answer', sdp: 'still here' } });
  });
});

describe('who may connect', () => {
  it("refuses camera-2's credentials as MASTER of camera-1's channel (403)", async () => {
    const arn = await channelForCamera1();
    const refused = await refusal(await masterUrl(arn, camera2));
    expect(refused.status).toBe(403);
    expect(refused.message).toContain('AccessDeniedException');
  });

  it('refuses the camera role as a VIEWER, and the viewer API as MASTER (403)', async () => {
    const arn = await channelForCamera1();
    expect((await refusal(await viewerUrl(arn, 'sneaky', camera1))).status).toBe(403);
    expect((await refusal(await masterUrl(arn, VIEWER_API))).status).toBe(403);
  });

  it('refuses a forged URL: a changed signature, client id or channel (403)', async () => {
    const arn = await channelForCamera1();
    const url = new URL(await viewerUrl(arn, 'viewer-1'));
    const signature = url.searchParams.get('X-Amz-Signature')!;
    const forged = new URL(url);
    forged.searchParams.set('X-Amz-Signature', `${signature[0] === 'a' ? 'b' : 'a'}${signature.slice(1)}`);
    expect((await refusal(forged.toString())).status).toBe(403);
    const otherClient = new URL(url);
    otherClient.searchParams.set('X-Amz-ClientId', 'viewer-2');
    expect((await refusal(otherClient.toString())).status).toBe(403);
    const unsigned = new URL(url);
    for (const name of [...unsigned.searchParams.keys()]) if (name !== 'X-Amz-ChannelARN' && name !== 'X-Amz-ClientId') unsigned.searchParams.delete(name);
    const refused = await refusal(unsigned.toString());
    expect(refused.status).toBe(403);
    expect(refused.message).toContain('MissingAuthenticationToken');
  });

  it('refuses an expired URL (403)', async () => {
    const arn = await channelForCamera1();
    const url = await masterUrl(arn, camera1, { signingDate: new Date(Date.now() - 120_000), expiresSeconds: 60 });
    const refused = await refusal(url);
    expect(refused.status).toBe(403);
    expect(refused.message).toContain('expired');
  });

  it('refuses a viewer without a client id (400) and a channel that does not exist (404)', async () => {
    const arn = await channelForCamera1();
    const noClientId = await presignSignalingUrl({ endpoint: await endpoint(arn, 'VIEWER'), channelArn: arn, role: 'MASTER', region: REGION, credentials: VIEWER_API });
    expect((await refusal(noClientId)).status).toBe(400);
    const url = await masterUrl(arn);
    await viewerApi.send(new DeleteSignalingChannelCommand({ ChannelARN: arn }));
    expect((await refusal(url)).status).toBe(404);
  });

  it(`admits at most ${MAX_VIEWERS_PER_CHANNEL} viewers on a channel (ClientLimitExceededException 400)`, async () => {
    const arn = await channelForCamera1();
    for (let i = 0; i < MAX_VIEWERS_PER_CHANNEL; i++) await peer(await viewerUrl(arn, `viewer-${i}`));
    const refused = await refusal(await viewerUrl(arn, 'one-too-many'));
    expect(refused.status).toBe(400);
    expect(refused.message).toContain('ClientLimitExceededException');
    // The same client id connecting again replaces its old connection rather than counting twice.
    const first = open[0]!;
    await peer(await viewerUrl(arn, 'viewer-0'));
    expect(await first.next()).toEqual({ messageType: 'GO_AWAY' });
  });
});
