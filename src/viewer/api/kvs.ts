import {
  CreateSignalingChannelCommand,
  DescribeSignalingChannelCommand,
  GetSignalingChannelEndpointCommand,
  KinesisVideoClient,
  ResourceInUseException,
  ResourceNotFoundException,
  type KinesisVideoClientConfig,
} from '@aws-sdk/client-kinesis-video';
import { GetIceServerConfigCommand, KinesisVideoSignalingClient } from '@aws-sdk/client-kinesis-video-signaling';
import { presignSignalingUrl } from '../../protocol/kvs-presign.js';
import type { IceServer, LiveSignalling } from './live.js';

/**
 * The viewer API's Kinesis Video Streams calls with AWS's own clients: the same code against AWS
 * (the Lambda's role credentials) and devcloud's stand-in (an endpoint and a CA to trust).
 * KinesisVideo API reference: DescribeSignalingChannel, CreateSignalingChannel (an existing name is
 * ResourceInUseException), GetSignalingChannelEndpoint; KinesisVideoSignaling: GetIceServerConfig.
 */

export interface KvsViewerOptions {
  region: string;
  /** devcloud: the control plane's https:// URL (AWS: the regional endpoint). */
  endpoint?: string;
  /** devcloud: long-term key pair; AWS: the Lambda's role from the default chain. */
  credentials?: KinesisVideoClientConfig['credentials'];
  /** devcloud: an agent that trusts its CA (requestHandler.httpsAgent). */
  requestHandler?: KinesisVideoClientConfig['requestHandler'];
  /** Extra ICE servers the browser gets before GetIceServerConfig's (AWS: the KVS STUN server of the region). */
  stunUrls?: string[];
}

/** AWS's STUN server for a region's signalling channels (what the KVS WebRTC SDK's viewer adds). */
export function kvsStunUrl(region: string): string {
  return `stun:stun.kinesisvideo.${region}.amazonaws.com:443`;
}

export interface KvsViewerSide extends LiveSignalling {
  destroy(): void;
}

export function kvsViewerSide(opts: KvsViewerOptions): KvsViewerSide {
  const common = {
    region: opts.region,
    maxAttempts: 2,
    ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
    ...(opts.requestHandler !== undefined ? { requestHandler: opts.requestHandler } : {}),
  };
  const control = new KinesisVideoClient({ ...common, ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}) });
  // GetIceServerConfig goes to the channel's own HTTPS endpoint: one client per endpoint (a handful per region).
  const signallingClients = new Map<string, KinesisVideoSignalingClient>();
  const signallingClient = (endpoint: string): KinesisVideoSignalingClient => {
    let client = signallingClients.get(endpoint);
    if (client === undefined) {
      client = new KinesisVideoSignalingClient({ ...common, endpoint });
      signallingClients.set(endpoint, client);
    }
    return client;
  };

  const describe = async (name: string): Promise<string | undefined> => {
    try {
      return (await control.send(new DescribeSignalingChannelCommand({ ChannelName: name }))).ChannelInfo?.ChannelARN;
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return undefined;
      throw err;
    }
  };

  return {
    async ensureChannel(name) {
      const existing = await describe(name);
      if (existing !== undefined) return existing;
      try {
        const made = await control.send(new CreateSignalingChannelCommand({ ChannelName: name, ChannelType: 'SINGLE_MASTER' }));
        if (made.ChannelARN) return made.ChannelARN;
      } catch (err) {
        // Two viewers pressing Live on a new camera at once: the other request made it.
        if (!(err instanceof ResourceInUseException)) throw err;
      }
      const arn = await describe(name);
      if (arn === undefined) throw new Error(`signalling channel ${name} was created but cannot be described`);
      return arn;
    },
    async viewerEndpoints(channelArn) {
      const out = await control.send(
        new GetSignalingChannelEndpointCommand({ ChannelARN: channelArn, SingleMasterChannelEndpointConfiguration: { Protocols: ['WSS', 'HTTPS'], Role: 'VIEWER' } }),
      );
      const of = (protocol: string): string => {
        const found = out.ResourceEndpointList?.find((e) => e.Protocol === protocol)?.ResourceEndpoint;
        if (!found) throw new Error(`GetSignalingChannelEndpoint gave no ${protocol} endpoint for ${channelArn}`);
        return found;
      };
      return { wss: of('WSS'), https: of('HTTPS') };
    },
    async iceServers(channelArn, httpsEndpoint, clientId) {
      const out = await signallingClient(httpsEndpoint).send(new GetIceServerConfigCommand({ ChannelARN: channelArn, ClientId: clientId, Service: 'TURN' }));
      const turn: IceServer[] = (out.IceServerList ?? []).flatMap((s) =>
        s.Uris && s.Uris.length > 0 ? [{ urls: s.Uris, ...(s.Username !== undefined ? { username: s.Username } : {}), ...(s.Password !== undefined ? { credential: s.Password } : {}) }] : [],
      );
      return [...(opts.stunUrls?.length ? [{ urls: opts.stunUrls }] : []), ...turn];
    },
    async presignViewer({ endpoint, channelArn, clientId, expiresSeconds }) {
      // The Lambda's role credentials (refreshed by the SDK's provider chain); devcloud's fixed key pair.
      const credentials = await control.config.credentials();
      return presignSignalingUrl({ endpoint, channelArn, role: 'VIEWER', clientId, region: opts.region, credentials, expiresSeconds });
    },
    destroy() {
      control.destroy();
      for (const c of signallingClients.values()) c.destroy();
    },
  };
}
