/**
 * The three Kinesis Video Streams calls a camera makes before it connects as MASTER (docs/protocol-live.md
 * §2-3): DescribeSignalingChannel (name → ARN), GetSignalingChannelEndpoint (WSS and HTTPS for MASTER)
 * on the control plane, and GetIceServerConfig on the signalling HTTPS endpoint. REST-JSON, POST,
 * SigV4 header authentication for service `kinesisvideo`, signed by AWS's own signer
 * (@smithy/signature-v4). Why not @aws-sdk/client-kinesis-video in the agent: docs/decisions.md.
 */
import https from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import { readBoundedBody } from '../lib/read-body.js';
import { httpRequest } from './http-request.js';
import { NodeSha256, type SigningCredentials } from './kvs-presign.js';

/** Answers are a few hundred bytes (an ICE server list a few KB); far more is not KVS. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface KvsCallOptions {
  region: string;
  credentials: SigningCredentials;
  /** PEM CA for the endpoint (devcloud's); default: the system's. */
  ca?: string | Buffer;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A refusal or failure of a KVS call: AWS's error type (x-amzn-ErrorType) and message. */
export class KvsApiError extends Error {
  override readonly name = 'KvsApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly errorType: string,
  ) {
    super(message);
  }
}

export interface RtcIceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

function errorTypeOf(header: string | string[] | undefined, body: unknown): string {
  const raw = (Array.isArray(header) ? header[0] : header) ?? ((body as { __type?: unknown } | null)?.__type as string | undefined) ?? 'UnknownError';
  // "AccessDeniedException:http://internal.amazon.com/..." is how AWS sometimes writes it.
  return String(raw).split(':')[0]!.slice(0, 100);
}

/** POSTs `input` to `{endpoint}{path}` signed with SigV4; the parsed JSON answer, or a KvsApiError. */
export async function callKvs(endpoint: string, path: string, input: Record<string, unknown>, opts: KvsCallOptions): Promise<Record<string, unknown>> {
  const url = new URL(path, endpoint);
  if (url.protocol !== 'https:') throw new KvsApiError(`a KVS endpoint is https://, not ${url.origin}`, 0, 'InvalidEndpoint');
  const body = JSON.stringify(input);
  const signer = new SignatureV4({ service: 'kinesisvideo', region: opts.region, credentials: opts.credentials, sha256: NodeSha256 });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'https:',
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query: {},
    headers: { host: url.host, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
    body,
  });
  const agent = new https.Agent({ keepAlive: false, ...(opts.ca ? { ca: opts.ca } : {}) });
  const signal = AbortSignal.any([AbortSignal.timeout(opts.timeoutMs ?? 10_000), ...(opts.signal ? [opts.signal] : [])]);
  try {
    const res = await httpRequest(url, { method: 'POST', headers: signed.headers, body, signal, agent });
    const raw = await readBoundedBody(res.body, MAX_ANSWER_BYTES);
    if (raw === undefined) throw new KvsApiError(`${url.host} answered ${path} with more than ${MAX_ANSWER_BYTES} bytes; is the endpoint right?`, res.statusCode, 'AnswerTooLarge');
    let parsed: unknown;
    try {
      parsed = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
    } catch {
      throw new KvsApiError(`${url.host} answered ${path} with ${res.statusCode} and a body that is not JSON; is the endpoint right?`, res.statusCode, 'NotJson');
    }
    if (res.statusCode !== 200) {
      const type = errorTypeOf(res.headers['x-amzn-errortype'], parsed);
      const message = (parsed as { message?: unknown; Message?: unknown } | null)?.message ?? (parsed as { Message?: unknown } | null)?.Message;
      throw new KvsApiError(`KVS refused ${path.slice(1)}: ${res.statusCode} ${type}${typeof message === 'string' ? ` (${message.slice(0, 300)})` : ''}`, res.statusCode, type);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new KvsApiError(`${url.host} answered ${path} with JSON that is not an object`, res.statusCode, 'NotJson');
    return parsed as Record<string, unknown>;
  } finally {
    agent.destroy();
  }
}

/** DescribeSignalingChannel by name → the channel's ARN (it must be ACTIVE). */
export async function describeChannelArn(controlEndpoint: string, channelName: string, opts: KvsCallOptions): Promise<string> {
  const out = await callKvs(controlEndpoint, '/describeSignalingChannel', { ChannelName: channelName }, opts);
  const info = out['ChannelInfo'] as { ChannelARN?: unknown; ChannelStatus?: unknown } | undefined;
  if (typeof info?.ChannelARN !== 'string') throw new KvsApiError('DescribeSignalingChannel answered without ChannelInfo.ChannelARN', 200, 'BadAnswer');
  if (info.ChannelStatus !== undefined && info.ChannelStatus !== 'ACTIVE') throw new KvsApiError(`channel ${channelName} is ${JSON.stringify(info.ChannelStatus)}, not ACTIVE`, 200, 'ChannelNotActive');
  return info.ChannelARN;
}

/** GetSignalingChannelEndpoint for one role: the WSS and HTTPS endpoints. */
export async function signalingEndpoints(controlEndpoint: string, channelArn: string, role: 'MASTER' | 'VIEWER', opts: KvsCallOptions): Promise<{ wss: string; https: string }> {
  const out = await callKvs(controlEndpoint, '/getSignalingChannelEndpoint', { ChannelARN: channelArn, SingleMasterChannelEndpointConfiguration: { Protocols: ['WSS', 'HTTPS'], Role: role } }, opts);
  const list = Array.isArray(out['ResourceEndpointList']) ? (out['ResourceEndpointList'] as { Protocol?: unknown; ResourceEndpoint?: unknown }[]) : [];
  const find = (protocol: string): string => {
    const hit = list.find((e) => e?.Protocol === protocol && typeof e.ResourceEndpoint === 'string');
    if (!hit) throw new KvsApiError(`GetSignalingChannelEndpoint gave no ${protocol} endpoint`, 200, 'BadAnswer');
    return hit.ResourceEndpoint as string;
  };
  return { wss: find('WSS'), https: find('HTTPS') };
}

/** GetIceServerConfig → RTCIceServer entries (TURN with its username and password); may be empty. */
export async function iceServers(httpsEndpoint: string, channelArn: string, opts: KvsCallOptions & { clientId?: string }): Promise<RtcIceServer[]> {
  const out = await callKvs(httpsEndpoint, '/v1/get-ice-server-config', { ChannelARN: channelArn, Service: 'TURN', ...(opts.clientId ? { ClientId: opts.clientId } : {}) }, opts);
  const list = Array.isArray(out['IceServerList']) ? (out['IceServerList'] as Record<string, unknown>[]) : [];
  return list.slice(0, 8).flatMap((s) => {
    const urls = Array.isArray(s?.['Uris']) ? (s['Uris'] as unknown[]).filter((u): u is string => typeof u === 'string' && /^(turns?|stun):/.test(u)).slice(0, 8) : [];
    if (urls.length === 0) return [];
    const server: RtcIceServer = { urls };
    if (typeof s['Username'] === 'string') server.username = s['Username'];
    if (typeof s['Password'] === 'string') server.credential = s['Password'];
    return [server];
  });
}
