/**
 * The KinesisVideo control plane's signalling-channel operations (API reference: CreateSignalingChannel,
 * DescribeSignalingChannel, GetSignalingChannelEndpoint, DeleteSignalingChannel), REST-JSON at the
 * paths @aws-sdk/client-kinesis-video calls. Each call is authorised against the caller's role policy
 * (iam.ts) before the channel is looked up, as IAM evaluates before the service: a camera asking about
 * another camera's channel learns nothing, not even whether it exists.
 */
import type { ChannelStore, Channel } from './channels.js';
import { assertChannelName, channelNameInArn } from './channels.js';
import { kvsErrors } from './errors.js';
import { policyDenial, type HeldCredentials, type KvsAction } from './iam.js';
import { stringMember, type JsonObject, type Operation } from './json-api.js';

export interface SignallingEndpoints {
  /** wss:// URL a client of `role` connects to (ConnectAsMaster / ConnectAsViewer). */
  wss(role: 'MASTER' | 'VIEWER'): string;
  /** https:// URL of the signalling data plane (GetIceServerConfig). */
  https: string;
}

const PROTOCOLS = ['WSS', 'HTTPS', 'WEBRTC'] as const;

function authorize(caller: HeldCredentials, action: KvsAction, channelName: string): void {
  const denial = policyDenial(caller.principal, action, channelName);
  if (denial !== undefined) throw kvsErrors.accessDenied(`User is not authorized to perform kinesisvideo:${action} on this channel: ${denial}.`);
}

/** The channel named by ChannelARN (or ChannelName where the API allows it), after the policy check. */
function channelFor(store: ChannelStore, input: JsonObject, caller: HeldCredentials, action: KvsAction, opts: { nameAllowed: boolean }): Channel {
  const arn = stringMember(input, 'ChannelARN');
  const name = opts.nameAllowed ? stringMember(input, 'ChannelName') : undefined;
  if (arn === undefined && name === undefined) throw kvsErrors.invalidArgument(opts.nameAllowed ? 'Give ChannelName or ChannelARN.' : 'ChannelARN is required.');
  if (arn !== undefined && name !== undefined) throw kvsErrors.invalidArgument('Give ChannelName or ChannelARN, not both.');
  const channelName = arn !== undefined ? channelNameInArn(arn) : name;
  if (channelName === undefined) throw kvsErrors.invalidArgument(`ChannelARN ${JSON.stringify(arn)} is not a signaling channel ARN.`);
  if (name !== undefined) assertChannelName(name);
  authorize(caller, action, channelName);
  const channel = store.find(arn !== undefined ? { arn } : { name: channelName });
  if (!channel) throw kvsErrors.notFound(`The signaling channel ${arn ?? channelName} does not exist.`);
  return channel;
}

function channelInfo(channel: Channel): JsonObject {
  return {
    ChannelName: channel.name,
    ChannelARN: channel.arn,
    ChannelType: channel.type,
    ChannelStatus: channel.status,
    // REST-JSON timestamps are epoch seconds.
    CreationTime: channel.createdAt.getTime() / 1000,
    SingleMasterConfiguration: { MessageTtlSeconds: channel.messageTtlSeconds },
    Version: channel.version,
  };
}

export function controlPlaneOperations(store: ChannelStore, endpoints: SignallingEndpoints, hooks: { onDelete(channel: Channel): void }): Map<string, Operation> {
  return new Map<string, Operation>([
    [
      '/createSignalingChannel',
      (input, caller) => {
        const name = stringMember(input, 'ChannelName', { required: true });
        assertChannelName(name);
        const type = stringMember(input, 'ChannelType') ?? 'SINGLE_MASTER';
        if (type !== 'SINGLE_MASTER') {
          throw kvsErrors.invalidArgument(type === 'FULL_MESH' ? 'devcloud serves SINGLE_MASTER channels only.' : `ChannelType must be SINGLE_MASTER or FULL_MESH, not ${type}.`);
        }
        const config = input['SingleMasterConfiguration'];
        if (config !== undefined && (typeof config !== 'object' || config === null)) throw kvsErrors.invalidArgument('SingleMasterConfiguration must be an object.');
        const ttl = (config as JsonObject | undefined)?.['MessageTtlSeconds'];
        if (ttl !== undefined && typeof ttl !== 'number') throw kvsErrors.invalidArgument('MessageTtlSeconds must be a number.');
        authorize(caller, 'CreateSignalingChannel', name);
        return { ChannelARN: store.create(name, ttl).arn };
      },
    ],
    ['/describeSignalingChannel', (input, caller) => ({ ChannelInfo: channelInfo(channelFor(store, input, caller, 'DescribeSignalingChannel', { nameAllowed: true })) })],
    [
      '/getSignalingChannelEndpoint',
      (input, caller) => {
        const config = input['SingleMasterChannelEndpointConfiguration'];
        const { Protocols: protocols, Role: role } = (typeof config === 'object' && config !== null ? config : {}) as JsonObject;
        if (role !== undefined && role !== 'MASTER' && role !== 'VIEWER') throw kvsErrors.invalidArgument(`Role must be MASTER or VIEWER, not ${JSON.stringify(role)}.`);
        const wanted = protocols ?? ['WSS', 'HTTPS'];
        if (!Array.isArray(wanted) || wanted.length === 0 || wanted.length > 5 || !wanted.every((p) => (PROTOCOLS as readonly unknown[]).includes(p))) {
          throw kvsErrors.invalidArgument(`Protocols must be a list of ${PROTOCOLS.join(', ')}.`);
        }
        channelFor(store, input, caller, 'GetSignalingChannelEndpoint', { nameAllowed: false });
        if (wanted.includes('WEBRTC')) throw kvsErrors.invalidArgument('The WEBRTC protocol needs WebRTC ingestion, which devcloud does not serve; ask for WSS and HTTPS.');
        const endpointRole = (role ?? 'MASTER');
        return {
          ResourceEndpointList: [...new Set(wanted as string[])].map((protocol) => ({
            Protocol: protocol,
            ResourceEndpoint: protocol === 'WSS' ? endpoints.wss(endpointRole) : endpoints.https,
          })),
        };
      },
    ],
    [
      '/deleteSignalingChannel',
      (input, caller) => {
        const channel = channelFor(store, input, caller, 'DeleteSignalingChannel', { nameAllowed: false });
        store.delete(channel, stringMember(input, 'CurrentVersion'));
        hooks.onDelete(channel);
        return {};
      },
    ],
  ]);
}
