/**
 * The agent's three KVS calls (src/protocol/kvs-api.ts) against devcloud's stand-ins, signed with a
 * camera's role credentials from the credentials provider: the answers the agent reads, and the
 * refusals it turns into a message an operator can act on (AccessDeniedException for another camera's
 * channel, ResourceNotFoundException for a missing one; statuses as docs/protocol-live.md §2 lists them).
 */
import { CreateSignalingChannelCommand } from '@aws-sdk/client-kinesis-video';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeChannelArn, iceServers, KvsApiError, signalingEndpoints } from '../../src/protocol/kvs-api.js';
import { REGION, startLiveCloud, type LiveCloud } from '../helpers/live-cloud.js';

let cloud: LiveCloud;
beforeAll(async () => {
  cloud = await startLiveCloud();
  const api = cloud.kvsClient();
  await api.send(new CreateSignalingChannelCommand({ ChannelName: 'cloudcam-camera-1' }));
  await api.send(new CreateSignalingChannelCommand({ ChannelName: 'cloudcam-camera-2' }));
  api.destroy();
});
afterAll(() => cloud.stop());

it('finds its channel, its MASTER endpoints and the ICE servers', async () => {
  const opts = { region: REGION, credentials: await cloud.cameraCredentials('camera-1'), ca: cloud.ca };
  const arn = await describeChannelArn(cloud.kvs.controlUrl, 'cloudcam-camera-1', opts);
  expect(arn).toMatch(/^arn:aws:kinesisvideo:us-east-1:\d{12}:channel\/cloudcam-camera-1\/\d+$/);
  const endpoints = await signalingEndpoints(cloud.kvs.controlUrl, arn, 'MASTER', opts);
  expect(endpoints.wss).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/master$/);
  expect(endpoints.https).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  expect(await iceServers(endpoints.https, arn, opts)).toEqual([]);
});

it('turns a refusal into a KvsApiError with AWS’s error type', async () => {
  const opts = { region: REGION, credentials: await cloud.cameraCredentials('camera-1'), ca: cloud.ca };
  const other = describeChannelArn(cloud.kvs.controlUrl, 'cloudcam-camera-2', opts);
  await expect(other).rejects.toBeInstanceOf(KvsApiError);
  await expect(other).rejects.toMatchObject({ status: 401, errorType: 'AccessDeniedException' });
  const forged = describeChannelArn(cloud.kvs.controlUrl, 'cloudcam-camera-1', { ...opts, credentials: { ...opts.credentials, secretAccessKey: 'wrong' } });
  await expect(forged).rejects.toMatchObject({ status: 403, errorType: 'InvalidSignatureException' });
});
