/**
 * The presigned WebSocket URL of a Kinesis Video Streams signalling channel (developer guide,
 * ConnectAsMaster / ConnectAsViewer): the endpoint GetSignalingChannelEndpoint gave for the role,
 * `X-Amz-ChannelARN` and, for a viewer, `X-Amz-ClientId`, signed with SigV4 query authentication for
 * service `kinesisvideo` by AWS's own signer (@smithy/signature-v4; its presign gives the signature the
 * KVS WebRTC SDK's signer gives, DESIGN §8).
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface PresignOptions {
  /** wss://... as GetSignalingChannelEndpoint returned it for this role. */
  endpoint: string;
  channelArn: string;
  role: 'MASTER' | 'VIEWER';
  /** Required for a viewer: 1-256 of [a-zA-Z0-9_.-], not starting with AWS_. */
  clientId?: string;
  region: string;
  credentials: SigningCredentials;
  /** Seconds the URL stays usable for a new connection (an open connection outlives it). */
  expiresSeconds?: number;
  signingDate?: Date;
}

const CLIENT_ID = /^(?!AWS_)[a-zA-Z0-9_.-]{1,256}$/i;
const DEFAULT_EXPIRES_SECONDS = 300;

/** SHA-256 (and HMAC-SHA-256 with a secret) from node:crypto, in the shape the smithy signer takes. */
export class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    if (this.secret === undefined) return createHash('sha256');
    const key = typeof this.secret === 'string' ? this.secret : ArrayBuffer.isView(this.secret) ? Buffer.from(this.secret.buffer, this.secret.byteOffset, this.secret.byteLength) : Buffer.from(this.secret);
    return createHmac('sha256', key);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

/** RFC 3986, as SigV4 encodes query values. */
function encode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export async function presignSignalingUrl(opts: PresignOptions): Promise<string> {
  const url = new URL(opts.endpoint);
  if (url.protocol !== 'wss:') throw new Error(`a signalling endpoint is wss://, not ${opts.endpoint}`);
  if (opts.role === 'VIEWER' && (opts.clientId === undefined || !CLIENT_ID.test(opts.clientId))) {
    throw new Error('a viewer needs a client id of 1-256 characters from [a-zA-Z0-9_.-], not starting with AWS_');
  }
  const query: Record<string, string> = { 'X-Amz-ChannelARN': opts.channelArn };
  if (opts.role === 'VIEWER') query['X-Amz-ClientId'] = opts.clientId!;
  const signer = new SignatureV4({ service: 'kinesisvideo', region: opts.region, credentials: opts.credentials, sha256: NodeSha256 });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: 'wss:',
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { host: url.host },
    },
    { expiresIn: opts.expiresSeconds ?? DEFAULT_EXPIRES_SECONDS, ...(opts.signingDate ? { signingDate: opts.signingDate } : {}) },
  );
  const params = Object.entries(signed.query ?? {}).map(([name, value]) => `${encode(name)}=${encode(String(value))}`);
  return `wss://${url.host}${url.pathname}?${params.join('&')}`;
}
