/**
 * devcloud's stand-in for the IAM side of live view: which key pairs exist, who holds them, and what
 * the policy of the holder's role allows on which signalling channel. Two principals exist:
 *
 * - a camera's role session, issued by the IoT credentials provider (../iot-credentials/) for one
 *   thing: the role's policy in AWS names `channel/cloudcam-${credentials-iot:ThingName}/*`, so these
 *   credentials reach that thing's channel and no other (infra/live.ts);
 * - the viewer API's own key pair (devcloud's one cloud principal): creates and describes channels,
 *   presigns VIEWER URLs and asks for ICE servers, on every `cloudcam-*` channel, but never connects as
 *   MASTER (only a camera does).
 */
import { randomBytes } from 'node:crypto';
import { channelNameOf } from '../../protocol/live-request.js';

export { channelNameOf };

export type KvsAction =
  | 'CreateSignalingChannel'
  | 'DescribeSignalingChannel'
  | 'GetSignalingChannelEndpoint'
  | 'DeleteSignalingChannel'
  | 'GetIceServerConfig'
  | 'ConnectAsMaster'
  | 'ConnectAsViewer';

/**
 * thing: the `x-amzn-iot-thingname` the camera passed to the credentials provider; without it AWS
 * still issues credentials, but `${credentials-iot:ThingName}` resolves to nothing and the role's
 * policy matches no channel.
 */
export type Principal = { kind: 'camera-role'; thing: string | undefined } | { kind: 'viewer-api' };

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface HeldCredentials extends AwsCredentials {
  principal: Principal;
  /** Epoch ms; absent for a long-term key. */
  expiresAt?: number;
}

const CAMERA_ACTIONS: ReadonlySet<KvsAction> = new Set(['DescribeSignalingChannel', 'GetSignalingChannelEndpoint', 'GetIceServerConfig', 'ConnectAsMaster']);
const VIEWER_API_ACTIONS: ReadonlySet<KvsAction> = new Set([
  'CreateSignalingChannel',
  'DescribeSignalingChannel',
  'GetSignalingChannelEndpoint',
  'DeleteSignalingChannel',
  'GetIceServerConfig',
  'ConnectAsViewer',
]);
/** Role sessions held at once; the oldest expired ones go first (a bound on what devcloud keeps). */
const MAX_SESSIONS = 10_000;

/** Why the policy of `principal` denies `action` on channel `channelName`, or undefined when it allows it. */
export function policyDenial(principal: Principal, action: KvsAction, channelName: string): string | undefined {
  if (principal.kind === 'camera-role') {
    if (principal.thing === undefined) return 'these credentials were issued without x-amzn-iot-thingname, so the role policy\'s ${credentials-iot:ThingName} matches no channel';
    if (!CAMERA_ACTIONS.has(action)) return `the camera role of ${principal.thing} may not call ${action}`;
    if (channelName !== channelNameOf(principal.thing)) {
      return `the camera role of ${principal.thing} reaches only channel ${channelNameOf(principal.thing)}, not ${channelName}`;
    }
    return undefined;
  }
  if (!VIEWER_API_ACTIONS.has(action)) return `the viewer API may not call ${action}`;
  if (!channelName.startsWith('cloudcam-')) return `the viewer API reaches only cloudcam-* channels, not ${channelName}`;
  return undefined;
}

export class CredentialsRegistry {
  private readonly held = new Map<string, HeldCredentials>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A long-term key pair (the viewer API's). */
  addLongTerm(credentials: AwsCredentials, principal: Principal): void {
    this.held.set(credentials.accessKeyId, { ...credentials, principal });
  }

  /** New temporary credentials for `principal`, valid `seconds` from now (an STS role session). */
  issueSession(principal: Principal, seconds: number): Required<AwsCredentials> & { expiresAt: number } {
    this.dropExpired();
    if (this.held.size >= MAX_SESSIONS) throw new Error(`devcloud holds ${MAX_SESSIONS} live role sessions; restart devcloud`);
    const issued = {
      accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: randomBytes(48).toString('base64'),
      expiresAt: this.now() + seconds * 1000,
    };
    this.held.set(issued.accessKeyId, { ...issued, principal });
    return issued;
  }

  /** The credentials behind an access key id; expired sessions are still found (the caller says "expired"). */
  lookup(accessKeyId: string): HeldCredentials | undefined {
    return this.held.get(accessKeyId);
  }

  private dropExpired(): void {
    const now = this.now();
    for (const [id, c] of this.held) if (c.expiresAt !== undefined && c.expiresAt < now) this.held.delete(id);
  }
}
