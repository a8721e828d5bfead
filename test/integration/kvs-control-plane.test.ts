/**
 * devcloud's KVS control plane and signalling HTTPS API against AWS's own clients
 * (@aws-sdk/client-kinesis-video, @aws-sdk/client-kinesis-video-signaling), with the camera's role
 * credentials from devcloud's IoT credentials provider. Behaviour and statuses from the KinesisVideo
 * API reference (CreateSignalingChannel, DescribeSignalingChannel, GetSignalingChannelEndpoint,
 * DeleteSignalingChannel: AccessDeniedException 401, ResourceInUseException 400,
 * ResourceNotFoundException 404, VersionMismatchException 400) and the signalling API reference
 * (GetIceServerConfig: NotAuthorizedException 401). docs/protocol-live.md.
 */
import https from 'node:https';
import {
  AccessDeniedException,
  CreateSignalingChannelCommand,
  DeleteSignalingChannelCommand,
  DescribeSignalingChannelCommand,
  GetSignalingChannelEndpointCommand,
  InvalidArgumentException,
  ResourceInUseException,
  ResourceNotFoundException,
  VersionMismatchException,
  type KinesisVideoClient,
} from '@aws-sdk/client-kinesis-video';
import { GetIceServerConfigCommand, NotAuthorizedException } from '@aws-sdk/client-kinesis-video-signaling';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLiveCloud, type LiveCloud } from '../helpers/live-cloud.js';

let cloud: LiveCloud;
let viewerApi: KinesisVideoClient;

beforeAll(async () => {
  // One-minute role sessions, so the expiry test moves the stand-ins' clock by a minute, well inside
  // SigV4's five minutes of allowed clock skew.
  cloud = await startLiveCloud({ credentialSeconds: 60 });
  viewerApi = cloud.kvsClient();
});

afterAll(async () => {
  viewerApi.destroy();
  await cloud.stop();
});

async function rawPost(url: string, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; type: string | undefined; message: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, url), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, ca: cloud.ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const type = res.headers['x-amzn-errortype'];
        resolve({ status: res.statusCode ?? 0, type: typeof type === 'string' ? type : undefined, message: (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message: string }).message });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the viewer API on the control plane', () => {
  it('creates, describes, finds the endpoints of and deletes a channel', async () => {
    const { ChannelARN } = await viewerApi.send(new CreateSignalingChannelCommand({ ChannelName: 'cloudcam-camera-1', SingleMasterConfiguration: { MessageTtlSeconds: 30 } }));
    expect(ChannelARN).toMatch(/^arn:aws:kinesisvideo:us-east-1:[0-9]+:channel\/cloudcam-camera-1\/[0-9]+$/);
    const byName = await viewerApi.send(new DescribeSignalingChannelCommand({ ChannelName: 'cloudcam-camera-1' }));
    const byArn = await viewerApi.send(new DescribeSignalingChannelCommand({ ChannelARN }));
    expect(byName.ChannelInfo).toEqual(byArn.ChannelInfo);
    expect(byName.ChannelInfo).toMatchObject({ ChannelARN, ChannelName: 'cloudcam-camera-1', ChannelType: 'SINGLE_MASTER', ChannelStatus: 'ACTIVE', SingleMasterConfiguration: { MessageTtlSeconds: 30 } });
    expect(byName.ChannelInfo?.CreationTime).toBeInstanceOf(Date);

    for (const Role of ['MASTER', 'VIEWER'] as const) {
      const { ResourceEndpointList } = await viewerApi.send(new GetSignalingChannelEndpointCommand({ ChannelARN, SingleMasterChannelEndpointConfiguration: { Protocols: ['WSS', 'HTTPS'], Role } }));
      expect(ResourceEndpointList).toEqual([
        { Protocol: 'WSS', ResourceEndpoint: `${cloud.kvs.signallingUrl.replace('https:', 'wss:')}/${Role === 'MASTER' ? 'master' : 'viewer'}` },
        { Protocol: 'HTTPS', ResourceEndpoint: cloud.kvs.signallingUrl },
      ]);
    }

    await expect(viewerApi.send(new CreateSignalingChannelCommand({ ChannelName: 'cloudcam-camera-1' }))).rejects.toBeInstanceOf(ResourceInUseException);
    await expect(viewerApi.send(new DeleteSignalingChannelCommand({ ChannelARN, CurrentVersion: 'not-the-version' }))).rejects.toBeInstanceOf(VersionMismatchException);
    await viewerApi.send(new DeleteSignalingChannelCommand({ ChannelARN, CurrentVersion: byArn.ChannelInfo!.Version! }));
    await expect(viewerApi.send(new DescribeSignalingChannelCommand({ ChannelARN }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(viewerApi.send(new GetSignalingChannelEndpointCommand({ ChannelARN, SingleMasterChannelEndpointConfiguration: { Protocols: ['WSS'], Role: 'MASTER' } }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  it('refuses bad input with InvalidArgumentException naming what is wrong', async () => {
    const err = await viewerApi.send(new CreateSignalingChannelCommand({ ChannelName: 'cloudcam-camera/1' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentException);
    expect((err as Error).message).toContain('ChannelName');
    await expect(viewerApi.send(new CreateSignalingChannelCommand({ ChannelName: 'cloudcam-ttl', SingleMasterConfiguration: { MessageTtlSeconds: 121 } }))).rejects.toThrow(/MessageTtlSeconds/);
  });

  it('answers an unsigned request 403 MissingAuthenticationToken and a wrongly signed one 403 InvalidSignature', async () => {
    const unsigned = await rawPost(cloud.kvs.controlUrl, '/describeSignalingChannel', {}, JSON.stringify({ ChannelName: 'cloudcam-camera-1' }));
    expect(unsigned).toEqual({ status: 403, type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
    const wrongSecret = cloud.kvsClient({ accessKeyId: 'AKIAVIEWERAPI0000001', secretAccessKey: 'not-the-secret' });
    const err = (await wrongSecret.send(new DescribeSignalingChannelCommand({ ChannelName: 'cloudcam-camera-1' })).catch((e: unknown) => e)) as { name: string; $metadata: { httpStatusCode: number } };
    expect(err.name).toBe('InvalidSignatureException');
    expect(err.$metadata.httpStatusCode).toBe(403);
    const unknownKey = cloud.kvsClient({ accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' });
    await expect(unknownKey.send(new DescribeSignalingChannelCommand({ ChannelName: 'cloudcam-camera-1' }))).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    wrongSecret.destroy();
    unknownKey.destroy();
  });
});

describe("a camera's role credentials", () => {
  let camera1: KinesisVideoClient;
  let channel1: string;
  let channel2: string;

  beforeAll(async () => {
    channel1 = (await viewerApi.send(new CreateSignalingChannelCommand({ ChannelName: 'cloudcam-camera-1' }))).ChannelARN!;
    channel2 = (await viewerApi.send(new CreateSignalingChannelCommand({ ChannelName: 'cloudcam-camera-2' }))).ChannelARN!;
    camera1 = cloud.kvsClient(await cloud.cameraCredentials('camera-1'));
  });

  afterAll(() => camera1.destroy());

  it("reach the camera's own channel: describe, endpoint, ICE servers (none on loopback)", async () => {
    await expect(camera1.send(new DescribeSignalingChannelCommand({ ChannelARN: channel1 }))).resolves.toMatchObject({ ChannelInfo: { ChannelARN: channel1 } });
    const { ResourceEndpointList } = await camera1.send(new GetSignalingChannelEndpointCommand({ ChannelARN: channel1, SingleMasterChannelEndpointConfiguration: { Protocols: ['HTTPS'], Role: 'MASTER' } }));
    const signalling = cloud.signalingClient(ResourceEndpointList![0]!.ResourceEndpoint!, await cloud.cameraCredentials('camera-1'));
    await expect(signalling.send(new GetIceServerConfigCommand({ ChannelARN: channel1, Service: 'TURN' }))).resolves.toMatchObject({ IceServerList: [] });
    signalling.destroy();
  });

  it("reach no other camera's channel, and create or delete none (401 AccessDeniedException, NotAuthorizedException)", async () => {
    await expect(camera1.send(new DescribeSignalingChannelCommand({ ChannelARN: channel2 }))).rejects.toBeInstanceOf(AccessDeniedException);
    await expect(camera1.send(new DescribeSignalingChannelCommand({ ChannelName: 'cloudcam-camera-2' }))).rejects.toBeInstanceOf(AccessDeniedException);
    await expect(camera1.send(new GetSignalingChannelEndpointCommand({ ChannelARN: channel2, SingleMasterChannelEndpointConfiguration: { Protocols: ['WSS'], Role: 'MASTER' } }))).rejects.toBeInstanceOf(
      AccessDeniedException,
    );
    await expect(camera1.send(new CreateSignalingChannelCommand({ ChannelName: 'cloudcam-camera-1-extra' }))).rejects.toBeInstanceOf(AccessDeniedException);
    await expect(camera1.send(new DeleteSignalingChannelCommand({ ChannelARN: channel1 }))).rejects.toBeInstanceOf(AccessDeniedException);
    // Denied before the lookup: a channel that does not exist answers the same, so nothing leaks.
    await expect(camera1.send(new DescribeSignalingChannelCommand({ ChannelName: 'cloudcam-camera-9' }))).rejects.toBeInstanceOf(AccessDeniedException);
    const signalling = cloud.signalingClient(cloud.kvs.signallingUrl, await cloud.cameraCredentials('camera-1'));
    await expect(signalling.send(new GetIceServerConfigCommand({ ChannelARN: channel2 }))).rejects.toBeInstanceOf(NotAuthorizedException);
    signalling.destroy();
  });

  it('stop working when they expire (403 ExpiredTokenException)', async () => {
    const credentials = await cloud.cameraCredentials('camera-1');
    const client = cloud.kvsClient(credentials);
    const shift = credentials.expiration.getTime() - Date.now() + 1000;
    expect(shift).toBeLessThan(2 * 60_000);
    cloud.shiftClock(shift);
    try {
      const err = (await client.send(new DescribeSignalingChannelCommand({ ChannelARN: channel1 })).catch((e: unknown) => e)) as { name: string; $metadata: { httpStatusCode: number } };
      expect(err.name).toBe('ExpiredTokenException');
      expect(err.$metadata.httpStatusCode).toBe(403);
    } finally {
      cloud.shiftClock(-shift);
      client.destroy();
    }
  });
});
