/**
 * Live view's stand-ins as `cloudcam devcloud` runs them: devcloud.json says where they are, a camera's
 * own certificate (from DIR/agents/{thing}.json's files) gets role credentials for its channel, and the
 * viewer API's key pair (devcloud.json's dataPlane keys) creates the channel and presigns a viewer.
 */
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import { CreateSignalingChannelCommand, GetSignalingChannelEndpointCommand, KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readDevcloudInfo, type DevcloudInfo } from '../../src/devcloud/info.js';
import { fetchRoleCredentials } from '../../src/protocol/iot-credentials.js';
import { presignSignalingUrl } from '../../src/protocol/kvs-presign.js';
import { startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { connectPeer } from '../helpers/signaling-peer.js';

let dc: TestDevcloud;
let info: DevcloudInfo;

beforeAll(async () => {
  dc = await startTestDevcloud({ broker: 'aedes', cameras: 2 });
  info = await readDevcloudInfo(dc.dir);
});

afterAll(() => dc.cleanup());

it('serves KVS signalling and the credentials provider as devcloud.json describes them', async () => {
  const ca = await readFile(info.caPath);
  const httpsAgent = new https.Agent({ ca });
  const { region, controlUrl } = info.live.kvs;
  const viewerApi = new KinesisVideoClient({ endpoint: controlUrl, region, credentials: { accessKeyId: info.dataPlane.accessKeyId, secretAccessKey: info.dataPlane.secretAccessKey }, maxAttempts: 1, requestHandler: { httpsAgent } });
  const { ChannelARN } = await viewerApi.send(new CreateSignalingChannelCommand({ ChannelName: 'cloudcam-camera-2' }));

  const device = info.devices['camera-2']!;
  const credentials = await fetchRoleCredentials({
    endpoint: info.live.credentialsProvider.url,
    roleAlias: info.live.credentialsProvider.roleAlias,
    thingName: 'camera-2',
    tls: { cert: await readFile(device.certPath), key: await readFile(device.keyPath), ca },
  });
  const camera = new KinesisVideoClient({ endpoint: controlUrl, region, credentials, maxAttempts: 1, requestHandler: { httpsAgent } });
  const endpointFor = async (client: KinesisVideoClient, Role: 'MASTER' | 'VIEWER'): Promise<string> =>
    (await client.send(new GetSignalingChannelEndpointCommand({ ChannelARN, SingleMasterChannelEndpointConfiguration: { Protocols: ['WSS'], Role } }))).ResourceEndpointList![0]!.ResourceEndpoint!;

  const master = await connectPeer(await presignSignalingUrl({ endpoint: await endpointFor(camera, 'MASTER'), channelArn: ChannelARN!, role: 'MASTER', region, credentials }), ca);
  const viewer = await connectPeer(
    await presignSignalingUrl({ endpoint: await endpointFor(viewerApi, 'VIEWER'), channelArn: ChannelARN!, role: 'VIEWER', clientId: 'browser-1', region, credentials: { accessKeyId: info.dataPlane.accessKeyId, secretAccessKey: info.dataPlane.secretAccessKey } }),
    ca,
  );
  viewer.client.send('SDP_OFFER', { type: 'offer', sdp: 'v=0' });
  expect(await master.next()).toEqual({ messageType: 'SDP_OFFER', senderClientId: 'browser-1', payload: { type: 'offer', sdp: 'v=0' } });
  master.client.close();
  viewer.client.close();
  viewerApi.destroy();
  camera.destroy();
  httpsAgent.destroy();
});
