import path from 'node:path';
import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CfnPolicy, CfnProvisioningTemplate, CfnTopicRule } from 'aws-cdk-lib/aws-iot';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { cloudConfigSchema } from '../src/cloud/config.js';
import { ENROLLED_AT_ATTRIBUTE } from '../src/cloud/enrolment-rules.js';
import {
  IOT_SQL_VERSION,
  PRESENCE_ONLINE_SQL,
  PRESENCE_TO_SHADOW_SQL,
  SNAPSHOT_REQUEST_SQL,
  presenceShadowTopicTemplate,
} from '../src/cloud/topic-rules.js';
import { CLAIM_CLIENT_ID_PREFIX } from '../src/protocol/fleet-provisioning.js';
import { DEFAULT_SHADOW_NAME } from '../src/protocol/topics.js';
import type { LambdaName } from './bundle.js';
import { AccessLogs, ACCESS_LOG_PREFIXES, SERVER_ACCESS_LOGS_BY_POLICY } from './access-logs.js';
import { claimPolicy, devicePolicy } from './iot-policies.js';
import { acknowledgeCdkHelpers, acknowledgeWildcards } from './nag.js';
import { CloudcamViewer, type ViewerSettings } from './viewer.js';
import { CloudcamLive } from './live.js';

/**
 * cloudcam's cloud side in one stack: the snapshot bucket, the cloud handler Lambda, the IoT topic
 * rules, the device and claim policies, fleet provisioning, and the outputs a camera needs.
 * Every IAM grant is scoped to the resources it is for (infra/cloudcam-stack.test.ts checks it), and
 * the stack passes cdk-nag's AwsSolutions rules with each exception acknowledged where it is made
 * (infra/nag.test.ts, docs/security.md "The deployed stack").
 */
export interface CloudcamStackProps extends StackProps {
  /** Where infra/bundle.ts wrote the Lambda bundles (`{dir}/{name}/index.js`). */
  lambdaDir: string;
  shadowName?: string;
  /** Snapshots are deleted this many days after upload. */
  snapshotRetentionDays?: number;
  /** Origins allowed to GET snapshots from a browser (with a presigned URL); default any. */
  viewerOrigins?: string[];
  /** Serial numbers allowed to enrol by claim; default: any serial (the hook still guards re-enrolment). */
  allowedSerials?: string[];
  /** A provisioned camera's thing name is this prefix + its serial number. */
  thingNamePrefix?: string;
  /** A camera connecting with the claim certificate uses a client id with this prefix. */
  claimClientIdPrefix?: string;
  expiresSeconds?: number;
  maxBytes?: number;
  /** Reserved concurrency of the cloud handler: always this many available to it, never more; 'off' for none. */
  handlerConcurrency?: number | 'off';
  /** S3 and CloudFront access logs are deleted this many days after they are written. */
  accessLogRetentionDays?: number;
  /** Deploys the viewer (infra/viewer.ts) when given. */
  viewer?: ViewerSettings;
}

export const STACK_DEFAULTS = { handlerConcurrency: 20, accessLogRetentionDays: 90, snapshotRetentionDays: 30 } as const;

/** The handler's environment, by the names its config schema reads (src/cloud/config.ts). */
type HandlerEnv = Partial<Record<(typeof cloudConfigSchema)[keyof typeof cloudConfigSchema]['env'], string>>;

export class CloudcamStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly releaseBucket: s3.Bucket;
  readonly handler: lambda.Function;

  constructor(scope: Construct, id: string, props: CloudcamStackProps) {
    super(scope, id, props);
    this.node.setContext(SERVER_ACCESS_LOGS_BY_POLICY, true);
    const shadowName = props.shadowName ?? DEFAULT_SHADOW_NAME;
    const thingNamePrefix = props.thingNamePrefix ?? 'cloudcam-';
    const claimClientIdPrefix = props.claimClientIdPrefix ?? CLAIM_CLIENT_ID_PREFIX; // devcloud's brokers enforce the same (acl.ts)
    const iotArn = `arn:${Aws.PARTITION}:iot:${Aws.REGION}:${Aws.ACCOUNT_ID}`;
    const names = { device: `${this.stackName}-Device`, claim: `${this.stackName}-Claim`, template: `${this.stackName}-Fleet` };

    const accessLogs = new AccessLogs(this, 'AccessLogs', { retentionDays: props.accessLogRetentionDays ?? STACK_DEFAULTS.accessLogRetentionDays }).bucket;

    // --- snapshots -----------------------------------------------------------------------------
    this.bucket = new s3.Bucket(this, 'Snapshots', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED, // SSE-S3: a presigned POST needs no KMS rights
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        { id: 'expire-snapshots', expiration: Duration.days(props.snapshotRetentionDays ?? STACK_DEFAULTS.snapshotRetentionDays) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      cors: [{ allowedMethods: [s3.HttpMethods.GET, s3.HttpMethods.HEAD], allowedOrigins: props.viewerOrigins ?? ['*'], maxAge: 3600 }],
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: ACCESS_LOG_PREFIXES.snapshots,
    });

    // --- releases (update packages for AWS IoT Jobs) ----------------------------------------------
    // Private; devices read a package only through the presigned GET that Jobs puts into the job
    // document at delivery (presignedUrlConfig). Versioned, so an overwritten package can be recovered.
    this.releaseBucket = new s3.Bucket(this, 'Releases', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED, // SSE-S3: a presigned GET needs no KMS rights
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        { id: 'expire-old-versions', noncurrentVersionExpiration: Duration.days(90) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: ACCESS_LOG_PREFIXES.releases,
    });
    // The role Jobs assumes to presign the GETs (presignedUrlConfig.roleArn): read release objects, nothing else.
    const presignRole = new iam.Role(this, 'JobsPresignRole', {
      // aws:SourceAccount: no other account's job can make IoT assume it (confused deputy).
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } } }),
      description: 'cloudcam jobs: presign GETs of release packages for job documents',
    });
    presignRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.releaseBucket.arnForObjects('*')] }));
    acknowledgeWildcards(presignRole, [this.releaseBucket.arnForObjects('*')], 'a job may deliver any release package (keys are chosen per release at upload)');

    // --- the cloud handler -----------------------------------------------------------------------
    const handlerLogs = new logs.LogGroup(this, 'HandlerLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const handlerRole = new iam.Role(this, 'HandlerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'cloudcam handler: presign snapshot POSTs, write desired.snapshot',
    });
    handlerLogs.grantWrite(handlerRole);
    // A presigned POST is signed with the role's credentials: S3 checks s3:PutObject when it arrives.
    handlerRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects('*')] }));
    // Named shadow ARN: thing/{thingName}/{shadowName} (IoT Developer Guide, "action resources"); the
    // fleet's things only (provisioning names them prefix + serial number).
    const fleetShadows = `${iotArn}:thing/${thingNamePrefix}*/${shadowName}`;
    handlerRole.addToPolicy(new iam.PolicyStatement({ actions: ['iot:UpdateThingShadow'], resources: [fleetShadows] }));
    acknowledgeWildcards(handlerRole, [this.bucket.arnForObjects('*')], 'presigns uploads of any camera\'s snapshots (keys are per camera and per day)');
    acknowledgeWildcards(handlerRole, [fleetShadows], 'the named shadow of every camera of the fleet (thing names are the fleet prefix + serial number)');

    const environment: HandlerEnv = {
      CLOUDCAM_BUCKET: this.bucket.bucketName,
      CLOUDCAM_SHADOW_NAME: shadowName,
      CLOUDCAM_EXPIRES_SECONDS: String(props.expiresSeconds ?? cloudConfigSchema.expiresSeconds.default),
      CLOUDCAM_MAX_BYTES: String(props.maxBytes ?? cloudConfigSchema.maxBytes.default),
    };
    const handlerConcurrency = props.handlerConcurrency ?? STACK_DEFAULTS.handlerConcurrency;
    this.handler = this.nodeFunction('Handler', 'cloud-handler', props.lambdaDir, handlerRole, handlerLogs, environment, handlerConcurrency === 'off' ? undefined : handlerConcurrency);
    // The host of the presigned POSTs and GETs (the SDK's regional virtual-hosted style).
    const bucketHost = `${this.bucket.bucketName}.s3.${Aws.REGION}.${Aws.URL_SUFFIX}`;
    // Live view (infra/live.ts): the role a camera gets through the IoT credentials provider.
    const live = new CloudcamLive(this, 'Live', { roleAliasName: `${this.stackName}-Live` });
    if (props.viewer) {
      const viewer = new CloudcamViewer(this, 'Viewer', {
        ...props.viewer,
        bucket: this.bucket,
        imagesOrigin: `https://${bucketHost}`,
        accessLogs,
        shadowName,
        thingNamePrefix,
        lambdaDir: props.lambdaDir,
        handlerEnvironment: environment,
        eventDays: props.snapshotRetentionDays ?? STACK_DEFAULTS.snapshotRetentionDays,
      });
      live.grantViewerApi(viewer.apiRole);
    }

    // --- topic rules -------------------------------------------------------------------------------
    const ruleErrors = new logs.LogGroup(this, 'RuleErrors', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const ruleRole = new iam.Role(this, 'RuleRole', {
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } } }),
      description: 'cloudcam IoT rules: republish presence into the shadow, log rule errors',
    });
    ruleErrors.grantWrite(ruleRole);
    const presenceRepublish = `${iotArn}:topic/$aws/things/${thingNamePrefix}*/shadow/name/${shadowName}/update`;
    ruleRole.addToPolicy(new iam.PolicyStatement({ actions: ['iot:Publish'], resources: [presenceRepublish] }));
    acknowledgeWildcards(ruleRole, [presenceRepublish], "republishes each camera's presence into its own named shadow: one topic per fleet thing");
    // Errors (a throttled Lambda, a rejected republish) land in a log group instead of vanishing.
    const errorAction = { cloudwatchLogs: { logGroupName: ruleErrors.logGroupName, roleArn: ruleRole.roleArn } };
    const invokeRule = (id: string, sql: string, description: string): CfnTopicRule => {
      const rule = new CfnTopicRule(this, id, {
        topicRulePayload: { sql, awsIotSqlVersion: IOT_SQL_VERSION, description, actions: [{ lambda: { functionArn: this.handler.functionArn } }], errorAction },
      });
      this.handler.addPermission(`${id}Invoke`, {
        principal: new iam.ServicePrincipal('iot.amazonaws.com'),
        sourceArn: rule.attrArn,
        sourceAccount: Aws.ACCOUNT_ID,
      });
      return rule;
    };
    invokeRule('PresenceOnlineRule', PRESENCE_ONLINE_SQL, 'cloudcam: a camera came online -> request a snapshot');
    invokeRule('SnapshotRequestRule', SNAPSHOT_REQUEST_SQL, 'cloudcam: a camera asked for a snapshot -> request it');
    new CfnTopicRule(this, 'PresenceShadowRule', {
      topicRulePayload: {
        sql: PRESENCE_TO_SHADOW_SQL,
        awsIotSqlVersion: IOT_SQL_VERSION,
        description: 'cloudcam: presence (including the last will) -> reported.connected in the shadow',
        actions: [{ republish: { topic: presenceShadowTopicTemplate(shadowName), qos: 1, roleArn: ruleRole.roleArn } }],
        errorAction,
      },
    });

    // --- device identity ---------------------------------------------------------------------------
    new CfnPolicy(this, 'DevicePolicy', { policyName: names.device, policyDocument: live.withAssumeRole(devicePolicy(iotArn, shadowName)) });
    new CfnPolicy(this, 'ClaimPolicy', { policyName: names.claim, policyDocument: claimPolicy(iotArn, names.template, claimClientIdPrefix) });

    const provisioningRole = new iam.Role(this, 'ProvisioningRole', {
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } } }),
      description: 'cloudcam fleet provisioning: create the thing, activate the certificate, attach the device policy',
    });
    const things = `${iotArn}:thing/${thingNamePrefix}*`;
    const certs = `${iotArn}:cert/*`;
    provisioningRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['iot:CreateThing', 'iot:DescribeThing', 'iot:UpdateThing', 'iot:AttachThingPrincipal'], resources: [things, certs] }),
    );
    provisioningRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['iot:AttachPolicy', 'iot:GetPolicy', 'iot:DescribeCertificate', 'iot:UpdateCertificate'],
        resources: [certs, `${iotArn}:policy/${names.device}`],
      }),
    );
    const certsWhy = 'certificate ids are made by AWS IoT when a camera enrols: no narrower resource can name them';
    const thingsWhy = 'every camera of the fleet: thing names are the fleet prefix + serial number';
    acknowledgeWildcards(provisioningRole, [things], thingsWhy);
    acknowledgeWildcards(provisioningRole, [certs], certsWhy);

    // The pre-provisioning hook (src/cloud/provisioning-hook.ts), always deployed: besides the optional
    // serial allow-list it refuses a serial whose thing already has an active certificate, unless an
    // operator allowed one re-enrolment (the thing attribute reenrolAllowedUntil); it then deactivates
    // the old certificate. Its role may read and update cloudcam things and read/deactivate certificates.
    const hookLogs = new logs.LogGroup(this, 'ProvisioningHookLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const hookRole = new iam.Role(this, 'ProvisioningHookRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'cloudcam pre-provisioning hook: look up the thing and its certificates; use a re-enrolment permission; deactivate the old certificate',
    });
    hookLogs.grantWrite(hookRole);
    hookRole.addToPolicy(new iam.PolicyStatement({ actions: ['iot:DescribeThing', 'iot:ListThingPrincipals', 'iot:UpdateThing'], resources: [things] }));
    // Certificate ids are random, so no narrower resource exists; the hook only deactivates the ones attached to the thing.
    hookRole.addToPolicy(new iam.PolicyStatement({ actions: ['iot:DescribeCertificate', 'iot:UpdateCertificate'], resources: [certs] }));
    acknowledgeWildcards(hookRole, [things], thingsWhy);
    acknowledgeWildcards(hookRole, [certs], certsWhy);
    const hookEnv: Record<string, string> = { CLOUDCAM_THING_NAME_PREFIX: thingNamePrefix };
    if (props.allowedSerials !== undefined) hookEnv['CLOUDCAM_ALLOWED_SERIALS'] = props.allowedSerials.join(',');
    const hook = this.nodeFunction('ProvisioningHook', 'provisioning-hook', props.lambdaDir, hookRole, hookLogs, hookEnv);
    hook.addPermission('IotInvoke', {
      principal: new iam.ServicePrincipal('iot.amazonaws.com'),
      sourceArn: `${iotArn}:provisioningtemplate/${names.template}`,
      sourceAccount: Aws.ACCOUNT_ID,
    });

    // What an operator needs for `cloudcam fleet allow-reenrol` (and nothing else): attach it to their user or role.
    const reenrolOperator = new iam.ManagedPolicy(this, 'ReenrolOperatorPolicy', {
      description: 'cloudcam: cloudcam fleet allow-reenrol (records a one-time re-enrolment permission on a camera thing)',
      statements: [new iam.PolicyStatement({ actions: ['iot:UpdateThing'], resources: [things] })],
    });
    acknowledgeWildcards(reenrolOperator, [things], thingsWhy);

    const template = new CfnProvisioningTemplate(this, 'FleetTemplate', {
      templateName: names.template,
      description: 'cloudcam: a camera with the claim certificate enrols itself with a CSR (its key never leaves it)',
      enabled: true,
      provisioningRoleArn: provisioningRole.roleArn,
      templateBody: JSON.stringify(fleetTemplateBody(thingNamePrefix, names.device)),
      preProvisioningHook: { targetArn: hook.functionArn, payloadVersion: '2020-04-01' },
    });
    template.node.addDependency(hook);

    // --- outputs -------------------------------------------------------------------------------
    // CloudFormation has no attribute for the account's IoT endpoint: ask DescribeEndpoint once.
    const endpoint = new AwsCustomResource(this, 'DescribeIotEndpoint', {
      onUpdate: {
        service: 'IoT',
        action: 'DescribeEndpoint',
        parameters: { endpointType: 'iot:Data-ATS' },
        physicalResourceId: PhysicalResourceId.fromResponse('endpointAddress'),
      },
      // DescribeEndpoint has no resource type: IAM only accepts "*" for it.
      policy: AwsCustomResourcePolicy.fromStatements([new iam.PolicyStatement({ actions: ['iot:DescribeEndpoint'], resources: ['*'] })]),
      installLatestAwsSdk: false,
    });
    acknowledgeWildcards(endpoint, ['*'], 'iot:DescribeEndpoint has no resource type: IAM accepts only "*" for it');
    new CfnOutput(this, 'IotEndpoint', { value: endpoint.getResponseField('endpointAddress'), description: 'MQTT endpoint for the agent (iot.endpoint)' });
    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName, description: 'snapshot bucket (CLOUDCAM_BUCKET for the operator commands)' });
    // The host the cloud handler's presigned POSTs name (the SDK's regional virtual-hosted style):
    // the agent's snapshot.allowedUploadHosts. Built here rather than read from GetAtt so that a test
    // can compare it with what @aws-sdk/s3-presigned-post produces.
    new CfnOutput(this, 'UploadHost', {
      value: bucketHost,
      description: "the cameras' snapshot.allowedUploadHosts: the one host their presigned uploads may go to",
    });
    new CfnOutput(this, 'ProvisioningTemplateName', { value: template.ref, description: 'fleet provisioning template for the claim flow' });
    new CfnOutput(this, 'ClaimPolicyName', { value: names.claim, description: 'attach to the claim certificate' });
    new CfnOutput(this, 'DevicePolicyName', { value: names.device, description: 'attached to every camera certificate' });
    new CfnOutput(this, 'HandlerFunctionName', { value: this.handler.functionName });
    // What an operator needs for `cloudcam jobs create|describe|cancel` and uploading releases.
    const jobsOperator = new iam.ManagedPolicy(this, 'JobsOperatorPolicy', {
      description: 'cloudcam: create, follow and cancel jobs for cloudcam things; upload release packages',
      statements: [
        new iam.PolicyStatement({
          actions: ['iot:CreateJob', 'iot:DescribeJob', 'iot:ListJobExecutionsForJob', 'iot:DescribeJobExecution', 'iot:CancelJob'],
          resources: [`${iotArn}:job/*`, things],
        }),
        new iam.PolicyStatement({ actions: ['iot:DescribeThing'], resources: [things] }),
        new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.releaseBucket.arnForObjects('*')] }),
        // CreateJob with presignedUrlConfig passes the presign role to IoT.
        new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: [presignRole.roleArn], conditions: { StringEquals: { 'iam:PassedToService': 'iot.amazonaws.com' } } }),
      ],
    });
    acknowledgeWildcards(jobsOperator, [`${iotArn}:job/*`], 'job ids are chosen by the operator per job: the operator may create and follow any job');
    acknowledgeWildcards(jobsOperator, [things], thingsWhy);
    acknowledgeWildcards(jobsOperator, [this.releaseBucket.arnForObjects('*')], 'the operator uploads each release package under a key of its own');
    new CfnOutput(this, 'ReleaseBucket', { value: this.releaseBucket.bucketName, description: 'release packages for update jobs (cloudcam fleet update uploads here)' });
    new CfnOutput(this, 'JobsPresignRoleArn', { value: presignRole.roleArn, description: "presignedUrlConfig.roleArn of update jobs (CLOUDCAM_JOBS_PRESIGN_ROLE_ARN)" });
    new CfnOutput(this, 'JobsOperatorPolicyArn', { value: jobsOperator.managedPolicyArn, description: 'attach to whoever runs cloudcam jobs / fleet update' });
    new CfnOutput(this, 'ReenrolOperatorPolicyArn', { value: reenrolOperator.managedPolicyArn, description: 'attach to whoever runs cloudcam fleet allow-reenrol' });
    new CfnOutput(this, 'AccessLogBucket', { value: accessLogs.bucketName, description: 'S3 and CloudFront access logs (s3/{bucket}/, cloudfront/), expired after accessLogRetentionDays' });
    acknowledgeCdkHelpers(this);
  }

  private nodeFunction(
    id: string,
    name: LambdaName,
    lambdaDir: string,
    role: iam.Role,
    logGroup: logs.LogGroup,
    environment: Record<string, string>,
    reservedConcurrentExecutions?: number,
  ): lambda.Function {
    return new lambda.Function(this, id, {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      code: lambda.Code.fromAsset(path.join(lambdaDir, name)),
      handler: 'index.handler',
      memorySize: 256,
      timeout: Duration.seconds(10),
      role,
      logGroup,
      environment,
      ...(reservedConcurrentExecutions !== undefined ? { reservedConcurrentExecutions } : {}),
    });
  }
}

/**
 * The fleet provisioning template (AWS IoT Developer Guide, "Provisioning templates"): the thing is
 * `{prefix}{SerialNumber}`, the certificate made from the camera's CSR is activated, and the device
 * policy is attached to it. `Model` is accepted (the agent sends it) but is not an attribute: thing
 * attribute values cannot hold the spaces Axis model names have. `EnrolledAt` has no default: the
 * pre-provisioning hook always sets it (parameterOverrides replace what the device sent), and without
 * it the registration fails rather than record a day the device chose.
 */
export function fleetTemplateBody(thingNamePrefix: string, devicePolicyName: string) {
  return {
    Parameters: {
      SerialNumber: { Type: 'String' },
      Model: { Type: 'String', Default: 'unknown' },
      EnrolledAt: { Type: 'String' },
      'AWS::IoT::Certificate::Id': { Type: 'String' },
    },
    Resources: {
      thing: {
        Type: 'AWS::IoT::Thing',
        OverrideSettings: { AttributePayload: 'MERGE', ThingTypeName: 'REPLACE', ThingGroups: 'DO_NOTHING' },
        Properties: {
          ThingName: { 'Fn::Join': ['', [thingNamePrefix, { Ref: 'SerialNumber' }]] },
          AttributePayload: { serialNumber: { Ref: 'SerialNumber' }, [ENROLLED_AT_ATTRIBUTE]: { Ref: 'EnrolledAt' } },
        },
      },
      certificate: {
        Type: 'AWS::IoT::Certificate',
        Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
      },
      policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: devicePolicyName } },
    },
  };
}
