/**
 * Live view's cloud side (issue 22, docs/protocol-live.md): the IAM role that the AWS IoT credentials
 * provider assumes for a camera, its role alias, the device-policy statement that lets a camera ask
 * for it, and what the viewer API may do on the signalling channels.
 *
 * - The role trusts `credentials.iot.amazonaws.com` only, and its policy names
 *   `channel/cloudcam-${credentials-iot:ThingName}/*`: the credentials a certificate gets reach its own
 *   thing's channel and no other (AWS IoT developer guide, "Authorizing direct calls to AWS services";
 *   the thing name is the `x-amzn-iot-thingname` header, checked against the certificate's thing).
 *   Four actions: ConnectAsMaster, GetSignalingChannelEndpoint, GetIceServerConfig,
 *   DescribeSignalingChannel; no create, no delete, never ConnectAsViewer.
 * - The viewer API creates and describes channels, finds their endpoints, presigns VIEWER URLs
 *   (ConnectAsViewer) and asks for ICE servers, on `cloudcam-*` channels; it never connects as MASTER.
 * devcloud enforces the same rules (src/devcloud/kvs/iam.ts).
 */
import { Aws, Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CfnRoleAlias } from 'aws-cdk-lib/aws-iot';
import { Construct } from 'constructs';
import type { PolicyDocument } from './iot-policies.js';
import { acknowledgeWildcards } from './nag.js';

/** The policy variable the credentials provider fills from `x-amzn-iot-thingname`. */
export const CREDENTIALS_THING_VARIABLE = '${credentials-iot:ThingName}';
/** Channel names: `cloudcam-{thing}` (src/devcloud/kvs/iam.ts channelNameOf). */
export const CHANNEL_PREFIX = 'cloudcam-';
export const CAMERA_ACTIONS = ['kinesisvideo:ConnectAsMaster', 'kinesisvideo:GetSignalingChannelEndpoint', 'kinesisvideo:GetIceServerConfig', 'kinesisvideo:DescribeSignalingChannel'];
export const VIEWER_API_ACTIONS = [
  'kinesisvideo:CreateSignalingChannel',
  'kinesisvideo:DescribeSignalingChannel',
  'kinesisvideo:GetSignalingChannelEndpoint',
  'kinesisvideo:GetIceServerConfig',
  'kinesisvideo:ConnectAsViewer',
];

export interface LiveProps {
  /** The role alias's name (devcloud's is `cloudcam-live`). */
  roleAliasName: string;
  /** credentialDurationSeconds: 900 to 43200 (CreateRoleAlias); default 3600. */
  credentialSeconds?: number;
}

export class CloudcamLive extends Construct {
  readonly role: iam.Role;
  readonly roleAlias: CfnRoleAlias;
  /** `arn:...:rolealias/{name}`: the resource of the device policy's iot:AssumeRoleWithCertificate. */
  readonly roleAliasArn: string;

  constructor(scope: Construct, id: string, props: LiveProps) {
    super(scope, id);
    const seconds = props.credentialSeconds ?? 3600;
    if (!Number.isInteger(seconds) || seconds < 900 || seconds > 43200) throw new Error(`credentialSeconds must be a whole number from 900 to 43200, not ${seconds}`);
    const channels = `arn:${Aws.PARTITION}:kinesisvideo:${Aws.REGION}:${Aws.ACCOUNT_ID}:channel`;
    this.role = new iam.Role(this, 'CameraRole', {
      assumedBy: new iam.ServicePrincipal('credentials.iot.amazonaws.com'),
      description: "cloudcam live view: a camera's signalling on its own channel (via the IoT credentials provider)",
      // The role alias's duration must not exceed the role's maximum session.
      maxSessionDuration: Duration.seconds(Math.max(seconds, 3600)),
    });
    const ownChannel = `${channels}/${CHANNEL_PREFIX}${CREDENTIALS_THING_VARIABLE}/*`;
    this.role.addToPolicy(new iam.PolicyStatement({ actions: CAMERA_ACTIONS, resources: [ownChannel] }));
    // A channel ARN ends in its creation time (`channel/{name}/{epoch}`), unknown before the viewer API
    // creates it; the name part is the camera's own thing name, filled in by the credentials provider.
    acknowledgeWildcards(this.role, [ownChannel], "a camera's own signalling channel only: the name is cloudcam-${credentials-iot:ThingName}; the trailing * is the channel's creation time in its ARN");
    this.roleAlias = new CfnRoleAlias(this, 'RoleAlias', { roleAlias: props.roleAliasName, roleArn: this.role.roleArn, credentialDurationSeconds: seconds });
    this.roleAliasArn = `arn:${Aws.PARTITION}:iot:${Aws.REGION}:${Aws.ACCOUNT_ID}:rolealias/${props.roleAliasName}`;
  }

  /** The device policy with the statement that lets a camera's certificate ask for the role. */
  withAssumeRole(policy: PolicyDocument): PolicyDocument {
    return { ...policy, Statement: [...policy.Statement, { Effect: 'Allow', Action: ['iot:AssumeRoleWithCertificate'], Resource: [this.roleAliasArn] }] };
  }

  /** What the viewer API may do on the signalling channels. */
  grantViewerApi(grantee: iam.Role): void {
    const channels = `arn:${Aws.PARTITION}:kinesisvideo:${Aws.REGION}:${Aws.ACCOUNT_ID}:channel/${CHANNEL_PREFIX}*`;
    grantee.addToPrincipalPolicy(new iam.PolicyStatement({ actions: VIEWER_API_ACTIONS, resources: [channels] }));
    acknowledgeWildcards(grantee, [channels], 'the viewer API opens live view on any camera a signed-in user picks: every cloudcam-{thing} channel of the fleet, never ConnectAsMaster');
  }
}
