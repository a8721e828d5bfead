/**
 * The camera's way onto its signalling channel as MASTER (docs/protocol-live.md): role credentials
 * from the IoT credentials provider (kept in memory by RoleCredentialsSource), DescribeSignalingChannel
 * by name for the ARN, GetSignalingChannelEndpoint for the MASTER's WSS and HTTPS endpoints,
 * GetIceServerConfig, then the presigned ConnectAsMaster WebSocket. Every step's failure names the
 * step and what to check; no URL, signature or credential is ever part of a message.
 */
import { channelNameOf } from '../../../protocol/live-request.js';
import { describeChannelArn, iceServers, KvsApiError, signalingEndpoints, type KvsCallOptions, type RtcIceServer } from '../../../protocol/kvs-api.js';
import { presignSignalingUrl } from '../../../protocol/kvs-presign.js';
import { CredentialsProviderError, type RoleCredentialsSource } from '../../../protocol/iot-credentials.js';
import { SignalingClient, type SignalingClientOptions } from '../../../protocol/kvs-signaling.js';

export interface MasterLinkSettings {
  thing: string;
  region: string;
  kvsEndpoint: string;
  /** CA for the KVS endpoints; undefined: the system's. */
  kvsCa?: Buffer;
}

export interface MasterLink {
  client: SignalingClient;
  channelArn: string;
  iceServers: RtcIceServer[];
  /** For RECONNECT_ICE_SERVER: the list again, with fresh credentials. */
  refreshIceServers(): Promise<RtcIceServer[]>;
}

export class LiveStartError extends Error {
  override readonly name = 'LiveStartError';
}

function explain(step: string, err: unknown): LiveStartError {
  if (err instanceof CredentialsProviderError) return new LiveStartError(`${step}: ${err.message}`);
  if (err instanceof KvsApiError) {
    const hint =
      err.errorType === 'ResourceNotFoundException'
        ? ' (the viewer API creates the channel before it asks the camera; was it deleted?)'
        : err.errorType === 'AccessDeniedException' || err.errorType === 'NotAuthorizedException'
          ? ` (the live role must allow this on channel ${'cloudcam-${credentials-iot:ThingName}'}; check the role alias and thingName)`
          : '';
    return new LiveStartError(`${step}: ${err.message}${hint}`);
  }
  const status = (err as { status?: number }).status;
  return new LiveStartError(`${step}: ${(err as Error).message}${status === 403 ? ' (check the device clock and the role policy)' : ''}`);
}

async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw explain(name, err);
  }
}

export async function connectAsMaster(settings: MasterLinkSettings, credentials: RoleCredentialsSource, handlers: Pick<SignalingClientOptions, 'onMessage' | 'onInvalid' | 'onClose'>): Promise<MasterLink> {
  const call = async (): Promise<KvsCallOptions> => {
    const c = await step('getting credentials from the IoT credentials provider', () => credentials.get());
    return { region: settings.region, credentials: c, ...(settings.kvsCa ? { ca: settings.kvsCa } : {}) };
  };
  const channelName = channelNameOf(settings.thing);
  const channelArn = await step(`DescribeSignalingChannel ${channelName}`, async () => describeChannelArn(settings.kvsEndpoint, channelName, await call()));
  const endpoints = await step('GetSignalingChannelEndpoint', async () => signalingEndpoints(settings.kvsEndpoint, channelArn, 'MASTER', await call()));
  const refreshIceServers = async (): Promise<RtcIceServer[]> => step('GetIceServerConfig', async () => iceServers(endpoints.https, channelArn, await call()));
  const servers = await refreshIceServers();
  const opts = await call();
  const url = await step('presigning ConnectAsMaster', () => presignSignalingUrl({ endpoint: endpoints.wss, channelArn, role: 'MASTER', region: settings.region, credentials: opts.credentials }));
  const client = await step('ConnectAsMaster', () => SignalingClient.connect(url, { ...handlers, ...(settings.kvsCa ? { ca: settings.kvsCa } : {}) }));
  return { client, channelArn, iceServers: servers, refreshIceServers };
}
