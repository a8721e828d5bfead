/**
 * The signalling channels of devcloud's Kinesis Video Streams stand-in: names, ARNs, versions and
 * each channel's message TTL, with the checks and errors of the KinesisVideo API reference
 * (CreateSignalingChannel, DescribeSignalingChannel, DeleteSignalingChannel). In memory: a devcloud
 * restart drops every channel, and the viewer API creates the one it needs again.
 */
import { randomBytes } from 'node:crypto';
import { kvsErrors } from './errors.js';

export interface Channel {
  name: string;
  arn: string;
  type: 'SINGLE_MASTER';
  status: 'ACTIVE';
  createdAt: Date;
  version: string;
  messageTtlSeconds: number;
}

/** Channel names: 1-256 of [a-zA-Z0-9_.-] (API reference, ChannelName). */
const CHANNEL_NAME = /^[a-zA-Z0-9_.-]{1,256}$/;
export const MIN_TTL_SECONDS = 5;
export const MAX_TTL_SECONDS = 120;
export const DEFAULT_TTL_SECONDS = 60;
/** A fake but well-formed account id: ARNs must match `arn:aws:kinesisvideo:[a-z0-9-]+:[0-9]+:...`. */
export const DEVCLOUD_ACCOUNT = '000000000000';

export function assertChannelName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !CHANNEL_NAME.test(name)) {
    throw kvsErrors.invalidArgument(`ChannelName must be 1-256 characters from [a-zA-Z0-9_.-], not ${JSON.stringify(name)}.`);
  }
}

/** The channel name inside an ARN of ours, or undefined when the text is no channel ARN at all. */
export function channelNameInArn(arn: string): string | undefined {
  const m = /^arn:aws:kinesisvideo:[a-z0-9-]+:[0-9]+:channel\/([a-zA-Z0-9_.-]+)\/[0-9]+$/.exec(arn);
  return m?.[1];
}

export class ChannelStore {
  private readonly byName = new Map<string, Channel>();

  constructor(
    private readonly opts: { region: string; maxChannels: number; now?: () => number },
  ) {}

  create(name: string, messageTtlSeconds: number = DEFAULT_TTL_SECONDS): Channel {
    assertChannelName(name);
    if (!Number.isInteger(messageTtlSeconds) || messageTtlSeconds < MIN_TTL_SECONDS || messageTtlSeconds > MAX_TTL_SECONDS) {
      throw kvsErrors.invalidArgument(`MessageTtlSeconds must be a whole number from ${MIN_TTL_SECONDS} to ${MAX_TTL_SECONDS}, not ${String(messageTtlSeconds)}.`);
    }
    if (this.byName.has(name)) throw kvsErrors.inUse(`The signaling channel ${name} already exists.`);
    if (this.byName.size >= this.opts.maxChannels) {
      throw kvsErrors.accountChannelLimit(`This account already has ${this.opts.maxChannels} signaling channels; delete one first.`);
    }
    const createdAt = new Date(this.opts.now?.() ?? Date.now());
    const channel: Channel = {
      name,
      arn: `arn:aws:kinesisvideo:${this.opts.region}:${DEVCLOUD_ACCOUNT}:channel/${name}/${createdAt.getTime()}`,
      type: 'SINGLE_MASTER',
      status: 'ACTIVE',
      createdAt,
      version: randomBytes(15).toString('base64url').slice(0, 20),
      messageTtlSeconds,
    };
    this.byName.set(name, channel);
    return channel;
  }

  /** By name or ARN; an ARN of a deleted (or never created) channel is not found. */
  find(ref: { name?: string; arn?: string }): Channel | undefined {
    if (ref.arn !== undefined) {
      const name = channelNameInArn(ref.arn);
      const channel = name === undefined ? undefined : this.byName.get(name);
      return channel?.arn === ref.arn ? channel : undefined;
    }
    return ref.name === undefined ? undefined : this.byName.get(ref.name);
  }

  delete(channel: Channel, currentVersion?: string): void {
    if (currentVersion !== undefined && currentVersion !== channel.version) {
      throw kvsErrors.versionMismatch(`The channel's version is ${channel.version}, not ${currentVersion}.`);
    }
    this.byName.delete(channel.name);
  }

  get size(): number {
    return this.byName.size;
  }
}
