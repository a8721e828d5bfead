import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudConfigSchema, loadCloudConfig } from '../src/cloud/config.js';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { createS3Client, parseCloudEvent } from '../src/cloud/handler.js';
import { eventsTopic, presenceTopic, shadowTopics, snapshotRequestTopic } from '../src/protocol/topics.js';
import { liveRequestTopic } from '../src/protocol/live-request.js';
import { jobsTopics, replyTopics } from '../src/protocol/jobs.js';
import { evaluateIotSql } from '../test/helpers/iot-sql.js';
import { bundleLambdas } from './bundle.js';
import { CloudcamStack } from './cloudcam-stack.js';
import { THING_VARIABLE } from './iot-policies.js';
import { PSEUDO, resolve } from './test-template.js';

const IOT = 'arn:aws:iot:eu-north-1:123456789012';

/** IAM / IoT policy resource matching: `*` any run of characters, `?` one character. */
function arnMatches(pattern: string, arn: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(arn);
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: unknown;
}
const asList = (x: string | string[]): string[] => (Array.isArray(x) ? x : [x]);

/** Does an IoT policy (with the thing variable set to `thing`) allow `action` on `arn`? */
function iotAllows(doc: { Statement: Statement[] }, thing: string, action: string, arn: string): boolean {
  return doc.Statement.some(
    (s) =>
      s.Effect === 'Allow' &&
      asList(s.Action).includes(action) &&
      asList(s.Resource).some((r) => arnMatches(r.replaceAll(THING_VARIABLE, thing), arn)),
  );
}

/** expect.stringMatching, typed (it is `any` in vitest's types). */
const matching = (re: RegExp): unknown => expect.stringMatching(re) as unknown;

let lambdaDir: string;
let template: Template;
let resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

beforeAll(async () => {
  lambdaDir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-lambda-'));
  await bundleLambdas(lambdaDir);
  const stack = new CloudcamStack(new App(), 'Cloudcam', { lambdaDir, allowedSerials: ['ACCC8E000001', 'ACCC8E000002'] });
  template = Template.fromStack(stack);
  resources = template.toJSON()['Resources'] as typeof resources;
}, 240_000);
afterAll(async () => {
  await rm(lambdaDir, { recursive: true, force: true });
});

describe('IAM: least privilege', () => {
  // DescribeEndpoint has no resource type; IAM accepts only "*" for it (Service Authorization Reference).
  const STAR_ALLOWED = new Set(['iot:DescribeEndpoint']);

  it('no Allow statement has a wildcard action, and "*" resources only where IAM offers nothing narrower', () => {
    const statements = ofType('AWS::IAM::Policy').flatMap(([, r]) => (r.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement);
    expect(statements.length).toBeGreaterThan(5);
    for (const s of statements.filter((x) => x.Effect === 'Allow')) {
      for (const a of asList(s.Action)) expect(a, `action ${a}`).not.toMatch(/\*/);
      if (asList(s.Resource).includes('*')) expect(asList(s.Action).every((a) => STAR_ALLOWED.has(a)), JSON.stringify(s.Action)).toBe(true);
    }
  });

  it('our roles carry no managed policies (AWSLambdaBasicExecutionRole would grant logs on "*")', () => {
    const roles = ofType('AWS::IAM::Role').filter(([id]) => !id.startsWith('AWS679f53fac002430cb0da5b7982bd2287')); // CDK's custom-resource provider
    expect(roles.length).toBe(6); // + live view's camera role (infra/live.ts)
    for (const [id, r] of roles) expect(r.Properties['ManagedPolicyArns'], id).toBeUndefined();
  });

  it('the handler may write named shadows "cloudcam" of the fleet\'s things and put objects in its bucket, nothing else', () => {
    const [, policy] = ofType('AWS::IAM::Policy').find(([id]) => id.startsWith('HandlerRole'))!;
    const statements = (resolve(policy.Properties['PolicyDocument']) as { Statement: Statement[] }).Statement;
    const actions = statements.flatMap((s) => asList(s.Action)).sort();
    expect(actions).toEqual(['iot:UpdateThingShadow', 'logs:CreateLogStream', 'logs:PutLogEvents', 's3:PutObject']);
    const shadow = statements.find((s) => asList(s.Action).includes('iot:UpdateThingShadow'))!;
    expect(asList(shadow.Resource)).toEqual([`${IOT}:thing/cloudcam-*/cloudcam`]);
    expect(arnMatches(asList(shadow.Resource)[0]!, `${IOT}:thing/cloudcam-ACCC8E000001/cloudcam`)).toBe(true);
    // Things outside the fleet's prefix (another application's in the same account): not ours to write.
    expect(arnMatches(asList(shadow.Resource)[0]!, `${IOT}:thing/camera-1/cloudcam`)).toBe(false);
    expect(arnMatches(asList(shadow.Resource)[0]!, `${IOT}:thing/cloudcam-ACCC8E000001`)).toBe(false); // the classic shadow
    expect(arnMatches(asList(shadow.Resource)[0]!, `${IOT}:thing/cloudcam-ACCC8E000001/other`)).toBe(false);
    const put = statements.find((s) => asList(s.Action).includes('s3:PutObject'))!;
    expect(asList(put.Resource)).toEqual([matching(/^getatt:Snapshots[0-9A-F]+\.Arn\/\*$/)]);
  });
});

describe('topic rules: what they select is what the handler parses', () => {
  const rules = () => ofType('AWS::IoT::TopicRule').map(([id, r]) => ({ id, payload: r.Properties['TopicRulePayload'] as Record<string, unknown> }));
  const handlerRules = () => rules().filter((r) => JSON.stringify(r.payload['Actions']).includes('"Lambda"'));
  const run = (topic: string, message: Record<string, unknown>) =>
    handlerRules()
      .map((r) => evaluateIotSql(String(r.payload['Sql']), topic, message))
      .filter((x) => x !== undefined)
      .map((x) => parseCloudEvent(x));

  it('every rule uses SQL 2016-03-23 and sends its errors to a log group', () => {
    expect(rules()).toHaveLength(3);
    for (const r of rules()) {
      expect(r.payload['AwsIotSqlVersion']).toBe('2016-03-23');
      expect(r.payload['ErrorAction']).toMatchObject({ CloudwatchLogs: { LogGroupName: { Ref: matching(/^RuleErrors/) } } });
    }
  });

  it('presence online -> {thing, kind: presence, state: online}; offline invokes nothing', () => {
    expect(run(presenceTopic('camera-1'), { state: 'online', at: '2026-11-27T12:00:00Z', agentVersion: '0.1.0' })).toEqual([
      { kind: 'presence', thing: 'camera-1', state: 'online' },
    ]);
    expect(run(presenceTopic('camera-1'), { state: 'offline', at: '2026-11-27T12:00:00Z' })).toEqual([]);
  });

  it('snapshot request -> {thing, kind: snapshot, reason?}', () => {
    expect(run(snapshotRequestTopic('camera-1'), { reason: 'schedule', at: 'x' })).toEqual([{ kind: 'snapshot', thing: 'camera-1', reason: 'schedule' }]);
    expect(run(snapshotRequestTopic('camera-1'), {})).toEqual([{ kind: 'snapshot', thing: 'camera-1' }]);
  });

  it('a payload cannot choose the thing: it always comes from the topic', () => {
    // No `SELECT *`: whether a payload field or an alias of the same name wins is not documented.
    for (const r of handlerRules()) expect(String(r.payload['Sql'])).not.toMatch(/SELECT \*|, \*/);
    expect(run(snapshotRequestTopic('camera-1'), { thing: 'camera-2', kind: 'presence', state: 'online' })).toEqual([
      { kind: 'snapshot', thing: 'camera-1' },
    ]);
  });

  it('presence (and the will) -> reported.connected, republished to the thing\'s own named shadow', () => {
    const shadowRule = rules().find((r) => JSON.stringify(r.payload['Actions']).includes('"Republish"'))!;
    const sql = String(shadowRule.payload['Sql']);
    expect(evaluateIotSql(sql, presenceTopic('camera-1'), { state: 'online', agentVersion: '0.1.0' })).toEqual({ state: { reported: { connected: true, agentVersion: '0.1.0' } } });
    expect(evaluateIotSql(sql, presenceTopic('camera-1'), { state: 'offline', agentVersion: '0.1.0' })).toEqual({ state: { reported: { connected: false, agentVersion: '0.1.0' } } });
    expect(evaluateIotSql(sql, presenceTopic('camera-1'), { state: 'sideways' })).toBeUndefined();
    const action = (shadowRule.payload['Actions'] as { Republish: { Topic: string; RoleArn: unknown } }[])[0]!.Republish;
    const topicOf = (thing: string) => action.Topic.replace('${topic(2)}', thing).replace(/^\$\$/, '$');
    const topic = topicOf('cloudcam-ACCC8E000001');
    expect(topic).toBe(shadowTopics('cloudcam-ACCC8E000001', 'cloudcam').update);
    // ... and the rule's role may publish exactly there, for the fleet's things only.
    const [, rolePolicy] = ofType('AWS::IAM::Policy').find(([id]) => id.startsWith('RuleRole'))!;
    const doc = resolve(rolePolicy.Properties['PolicyDocument']) as { Statement: Statement[] };
    expect(iotAllows(doc, '', 'iot:Publish', `${IOT}:topic/${topic}`)).toBe(true);
    expect(iotAllows(doc, '', 'iot:Publish', `${IOT}:topic/${shadowTopics('cloudcam-ACCC8E000001', 'cloudcam').delete}`)).toBe(false);
    expect(iotAllows(doc, '', 'iot:Publish', `${IOT}:topic/${topicOf('camera-1')}`)).toBe(false);
  });

  it('the handler may be invoked by exactly these two rules of this account', () => {
    for (const r of handlerRules()) {
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Principal: 'iot.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [r.id, 'Arn'] },
        SourceAccount: { Ref: 'AWS::AccountId' },
      });
    }
  });
});

describe('the handler Lambda', () => {
  const handler = () => ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('Handler'))![1];

  it('runs on the current Node runtime from the esbuild bundle (an asset directory, no Docker bundling)', () => {
    expect(handler().Properties).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'index.handler', Architectures: ['arm64'] });
    expect(handler().Properties['Code']).toMatchObject({ S3Key: matching(/^[0-9a-f]{64}\.zip$/) });
  });

  it('has reserved concurrency (20 by default): always that many for camera events, never more', () => {
    expect(handler().Properties['ReservedConcurrentExecutions']).toBe(20);
    const unreserved = Template.fromStack(new CloudcamStack(new App(), 'Unreserved', { lambdaDir, handlerConcurrency: 'off' }));
    const fn = Object.entries(unreserved.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith('Handler'))![1] as { Properties: Record<string, unknown> };
    expect(fn.Properties['ReservedConcurrentExecutions']).toBeUndefined();
  }, 120_000);

  it('its environment is exactly what its config schema reads, and loads', () => {
    const env = (handler().Properties['Environment'] as { Variables: Record<string, unknown> }).Variables;
    const schemaNames = new Set(Object.values(cloudConfigSchema).map((s) => s.env));
    for (const name of Object.keys(env)) expect(schemaNames.has(name as never), `${name} is not in cloudConfigSchema`).toBe(true);
    // Endpoint overrides are for devcloud; in AWS the SDK finds the endpoints. AWS_REGION is Lambda's own.
    expect(env).not.toHaveProperty('CLOUDCAM_S3_ENDPOINT');
    expect(env).not.toHaveProperty('CLOUDCAM_IOT_DATA_ENDPOINT');
    expect(env).not.toHaveProperty('AWS_REGION');
    expect(env['CLOUDCAM_BUCKET']).toEqual({ Ref: matching(/^Snapshots/) });
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(resolve(v))]));
    const config = loadCloudConfig({ ...resolved, AWS_REGION: 'eu-north-1' });
    expect(config).toMatchObject({ region: 'eu-north-1', shadowName: 'cloudcam', expiresSeconds: 300 });
    expect(config.s3Endpoint).toBeUndefined();
  });
});

describe('the device policy: a camera reaches only its own topics and shadow', () => {
  const policyOf = (id: string) => resolve(ofType('AWS::IoT::Policy').find(([rid]) => rid === id)![1].Properties['PolicyDocument']) as { Statement: Statement[] };
  const topicsOf = (thing: string) => {
    const s = shadowTopics(thing, 'cloudcam');
    const classic = shadowTopics(thing);
    const j = jobsTopics(thing);
    return {
      publish: [presenceTopic(thing), snapshotRequestTopic(thing), eventsTopic(thing), s.get, s.update, j.getPending, j.startNext, j.describe('$next'), j.describe('job-1'), j.update('job-1')],
      receive: [
        s.getAccepted,
        s.getRejected,
        s.updateAccepted,
        s.updateRejected,
        s.updateDelta,
        j.notify,
        j.notifyNext,
        liveRequestTopic(thing),
        ...[j.getPending, j.startNext, j.describe('$next'), j.update('job-1')].flatMap((t) => Object.values(replyTopics(t))),
      ],
      // The live request is the cloud's to publish (issue 22): a camera only subscribes to and receives its own.
      never: [s.delete, classic.update, classic.get, s.updateDocuments, `${eventsTopic(thing)}/x`, liveRequestTopic(thing)],
    };
  };
  // "camera-1" is a prefix of "camera-10": a policy ending in `${thing}*` would leak between them.
  const PAIRS = [
    ['camera-1', 'camera-10'],
    ['camera-10', 'camera-1'],
    ['ACCC8E000001', 'ACCC8E000002'],
  ] as const;

  it.each(PAIRS)('%s can use its own topics (the positive control)', (me) => {
    const doc = policyOf('DevicePolicy');
    const t = topicsOf(me);
    expect(iotAllows(doc, me, 'iot:Connect', `${IOT}:client/${me}`)).toBe(true);
    for (const topic of t.publish) expect(iotAllows(doc, me, 'iot:Publish', `${IOT}:topic/${topic}`), topic).toBe(true);
    for (const topic of t.receive) {
      expect(iotAllows(doc, me, 'iot:Subscribe', `${IOT}:topicfilter/${topic}`), topic).toBe(true);
      expect(iotAllows(doc, me, 'iot:Receive', `${IOT}:topic/${topic}`), topic).toBe(true);
    }
    for (const topic of t.never) expect(iotAllows(doc, me, 'iot:Publish', `${IOT}:topic/${topic}`), topic).toBe(false);
  });

  it.each(PAIRS)('%s cannot connect as, publish to, subscribe to or receive from %s', (me, other) => {
    const doc = policyOf('DevicePolicy');
    const t = topicsOf(other);
    expect(iotAllows(doc, me, 'iot:Connect', `${IOT}:client/${other}`)).toBe(false);
    for (const topic of [...t.publish, ...t.receive, ...t.never]) {
      for (const action of ['iot:Publish', 'iot:Receive']) expect(iotAllows(doc, me, action, `${IOT}:topic/${topic}`), `${action} ${topic}`).toBe(false);
      expect(iotAllows(doc, me, 'iot:Subscribe', `${IOT}:topicfilter/${topic}`), topic).toBe(false);
    }
    // Wildcard filters that would cover other things are refused too.
    for (const filter of ['cloudcam/+/presence', 'cloudcam/+/live/request', 'cloudcam/#', '$aws/things/+/shadow/name/cloudcam/update/delta', '$aws/things/+/jobs/notify-next', '$aws/things/+/jobs/#', '$aws/things/#', '#']) {
      expect(iotAllows(doc, me, 'iot:Subscribe', `${IOT}:topicfilter/${filter}`), filter).toBe(false);
    }
  });

  it('connecting requires the certificate to be attached to the thing', () => {
    const connect = policyOf('DevicePolicy').Statement.find((s) => asList(s.Action).includes('iot:Connect'))!;
    expect(connect.Condition).toEqual({ Bool: { 'iot:Connection.Thing.IsAttached': 'true' } });
  });

  it('the claim certificate can only enrol: connect with the claim prefix, the CSR and RegisterThing topics', () => {
    const doc = policyOf('ClaimPolicy');
    expect(iotAllows(doc, '', 'iot:Connect', `${IOT}:client/cloudcam-claim-ACCC8E000001`)).toBe(true);
    expect(iotAllows(doc, '', 'iot:Connect', `${IOT}:client/camera-1`)).toBe(false);
    expect(iotAllows(doc, '', 'iot:Publish', `${IOT}:topic/$aws/certificates/create-from-csr/json`)).toBe(true);
    expect(iotAllows(doc, '', 'iot:Publish', `${IOT}:topic/$aws/provisioning-templates/Cloudcam-Fleet/provision/json`)).toBe(true);
    expect(iotAllows(doc, '', 'iot:Publish', `${IOT}:topic/$aws/provisioning-templates/Other/provision/json`)).toBe(false);
    expect(iotAllows(doc, '', 'iot:Publish', `${IOT}:topic/$aws/certificates/create/json`)).toBe(false); // AWS-made keys: not our path
    expect(iotAllows(doc, '', 'iot:Publish', `${IOT}:topic/${presenceTopic('camera-1')}`)).toBe(false);
    expect(iotAllows(doc, '', 'iot:Subscribe', `${IOT}:topicfilter/$aws/certificates/create-from-csr/json/accepted`)).toBe(true);
  });
});

describe('fleet provisioning', () => {
  it('the template makes thing cloudcam-{serial}, activates the CSR certificate and attaches the device policy', () => {
    const [, t] = ofType('AWS::IoT::ProvisioningTemplate')[0]!;
    expect(t.Properties).toMatchObject({ TemplateName: 'Cloudcam-Fleet', Enabled: true });
    const body = JSON.parse(String(t.Properties['TemplateBody'])) as { Parameters: object; Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    expect(Object.keys(body.Parameters)).toEqual(['SerialNumber', 'Model', 'EnrolledAt', 'AWS::IoT::Certificate::Id']);
    // EnrolledAt has no default: only the hook's override sets it (a device's own value is replaced).
    expect(body.Parameters).toMatchObject({ EnrolledAt: { Type: 'String' } });
    expect(body.Parameters).not.toHaveProperty(['EnrolledAt', 'Default']);
    // The viewer API reads the attribute to bound a camera's event listing (issue 20).
    expect(body.Resources['thing']!.Properties['AttributePayload']).toEqual({ serialNumber: { Ref: 'SerialNumber' }, enrolledAt: { Ref: 'EnrolledAt' } });
    expect(body.Resources['thing']!.Properties['ThingName']).toEqual({ 'Fn::Join': ['', ['cloudcam-', { Ref: 'SerialNumber' }]] });
    expect(body.Resources['certificate']!.Properties).toEqual({ CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' });
    const devicePolicyName = ofType('AWS::IoT::Policy').find(([id]) => id === 'DevicePolicy')![1].Properties['PolicyName'];
    expect(body.Resources['policy']!.Properties['PolicyName']).toBe(devicePolicyName);
  });

  it('the pre-provisioning hook gets the allow-list and the thing prefix, and may be invoked only for this template', () => {
    template.hasResourceProperties('AWS::IoT::ProvisioningTemplate', {
      PreProvisioningHook: { PayloadVersion: '2020-04-01', TargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ProvisioningHook'), 'Arn'] } },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { CLOUDCAM_ALLOWED_SERIALS: 'ACCC8E000001,ACCC8E000002', CLOUDCAM_THING_NAME_PREFIX: 'cloudcam-' } },
    });
    const [, perm] = ofType('AWS::Lambda::Permission').find(([id]) => id.startsWith('ProvisioningHook'))!;
    expect(resolve(perm.Properties['SourceArn'])).toBe(`${IOT}:provisioningtemplate/Cloudcam-Fleet`);
  });

  it('the hook may look up cloudcam things and their certificates, use a permission and deactivate certificates; nothing else', () => {
    const [, policy] = ofType('AWS::IAM::Policy').find(([id]) => id.startsWith('ProvisioningHookRole'))!;
    const statements = (resolve(policy.Properties['PolicyDocument']) as { Statement: Statement[] }).Statement;
    const grants = statements.filter((s) => !asList(s.Action).some((a) => a.startsWith('logs:')));
    expect(grants.map((s) => ({ actions: asList(s.Action).sort(), resources: asList(s.Resource) }))).toEqual([
      { actions: ['iot:DescribeThing', 'iot:ListThingPrincipals', 'iot:UpdateThing'], resources: [`${IOT}:thing/cloudcam-*`] },
      { actions: ['iot:DescribeCertificate', 'iot:UpdateCertificate'], resources: [`${IOT}:cert/*`] },
    ]);
    const thingGrant = asList(grants[0]!.Resource)[0]!;
    expect(arnMatches(thingGrant, `${IOT}:thing/cloudcam-ACCC8E000001`)).toBe(true);
    expect(arnMatches(thingGrant, `${IOT}:thing/other-thing`)).toBe(false);
  });

  it('an operator policy for allow-reenrol grants iot:UpdateThing on cloudcam things only, and is an output', () => {
    const managedPolicies = ofType('AWS::IAM::ManagedPolicy').filter(([id]) => id.startsWith('ReenrolOperatorPolicy'));
    expect(managedPolicies).toHaveLength(1);
    const [, managed] = managedPolicies[0]!;
    const statements = (resolve(managed.Properties['PolicyDocument']) as { Statement: Statement[] }).Statement;
    expect(statements).toEqual([{ Effect: 'Allow', Action: 'iot:UpdateThing', Resource: `${IOT}:thing/cloudcam-*` }]);
    template.hasOutput('ReenrolOperatorPolicyArn', {});
  });

  it('without an allow-list the hook still guards re-enrolment, with no CLOUDCAM_ALLOWED_SERIALS', () => {
    const t = Template.fromStack(new CloudcamStack(new App(), 'NoList', { lambdaDir }));
    t.hasResourceProperties('AWS::IoT::ProvisioningTemplate', { PreProvisioningHook: Match.objectLike({ PayloadVersion: '2020-04-01' }) });
    const hook = Object.values(t.findResources('AWS::Lambda::Function')).find((r) => JSON.stringify(r).includes('CLOUDCAM_THING_NAME_PREFIX'));
    expect(hook).toBeDefined();
    expect(JSON.stringify(hook)).not.toContain('CLOUDCAM_ALLOWED_SERIALS');
  });
});

describe('the snapshot bucket', () => {
  it('is private, encrypted, TLS-only, expires old snapshots and lets a viewer GET', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: 30, Status: 'Enabled' })]) },
      CorsConfiguration: { CorsRules: [Match.objectLike({ AllowedMethods: ['GET', 'HEAD'] })] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('outputs what a camera and an operator need', () => {
    for (const name of ['IotEndpoint', 'BucketName', 'UploadHost', 'ProvisioningTemplateName', 'ClaimPolicyName', 'DevicePolicyName', 'ReenrolOperatorPolicyArn', 'ReleaseBucket', 'JobsPresignRoleArn', 'JobsOperatorPolicyArn']) {
      template.hasOutput(name, {});
    }
  });

  it('UploadHost is the host of the presigned POSTs the cloud handler makes (the agent allow-lists exactly it)', async () => {
    const outputs = template.toJSON()['Outputs'] as Record<string, { Value: unknown }>;
    const resolved = String(resolve(outputs['UploadHost']!.Value));
    const bucketRef = /^ref:(Snapshots[A-Za-z0-9]+)\./.exec(resolved)?.[1];
    expect(bucketRef).toBeDefined();
    const bucket = 'cloudcam-snapshotsd03d071c-abcdef'; // what CloudFormation names it
    const s3 = createS3Client({ region: PSEUDO['AWS::Region']!, credentials: { accessKeyId: 'AKIAEXAMPLEEXAMPLE12', secretAccessKey: 'x'.repeat(40) } });
    const post = await createPresignedPost(s3, { Bucket: bucket, Key: 'camera-1/x.jpg', Expires: 60 });
    s3.destroy();
    expect(resolved.replace(`ref:${bucketRef!}`, bucket)).toBe(new URL(post.url).host);
    expect(new URL(post.url).host).toBe(`${bucket}.s3.eu-north-1.amazonaws.com`);
    // us-east-1 too gets the regional name (not the legacy global bucket.s3.amazonaws.com).
    const east = createS3Client({ region: 'us-east-1', credentials: { accessKeyId: 'AKIAEXAMPLEEXAMPLE12', secretAccessKey: 'x'.repeat(40) } });
    expect(new URL((await createPresignedPost(east, { Bucket: bucket, Key: 'k', Expires: 60 })).url).host).toBe(`${bucket}.s3.us-east-1.amazonaws.com`);
    east.destroy();
  });
});

describe('releases for update jobs', () => {
  const bucketId = (): string => ofType('AWS::S3::Bucket').find(([id]) => id.startsWith('Releases'))![0];

  it('the release bucket is private, encrypted, versioned and TLS-only', () => {
    const [, bucket] = ofType('AWS::S3::Bucket').find(([id]) => id.startsWith('Releases'))!;
    expect(bucket.Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    expect(bucket.Properties['CorsConfiguration']).toBeUndefined(); // no browser reads releases
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId() },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('the presign role is assumed by IoT of this account only and may only read release objects', () => {
    const [roleId, role] = ofType('AWS::IAM::Role').find(([id]) => id.startsWith('JobsPresignRole'))!;
    expect(role.Properties['AssumeRolePolicyDocument']).toMatchObject({
      Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'iot.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } } }],
    });
    const [, policy] = ofType('AWS::IAM::Policy').find(([id]) => id.startsWith('JobsPresignRole'))!;
    expect(asList((policy.Properties['Roles'] as { Ref: string }[]).map((r) => r.Ref))).toEqual([roleId]);
    const statements = (resolve(policy.Properties['PolicyDocument']) as { Statement: Statement[] }).Statement;
    expect(statements).toEqual([{ Effect: 'Allow', Action: 's3:GetObject', Resource: `getatt:${bucketId()}.Arn/*` }]);
    const outputs = template.toJSON()['Outputs'] as Record<string, { Value: unknown }>;
    expect(outputs['JobsPresignRoleArn']!.Value).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
    expect(outputs['ReleaseBucket']!.Value).toEqual({ Ref: bucketId() });
  });

  it('the jobs operator policy covers the job calls on job and cloudcam thing ARNs, uploads to releases and passes only the presign role to IoT', () => {
    const [, policy] = ofType('AWS::IAM::ManagedPolicy').find(([id]) => id.startsWith('JobsOperatorPolicy'))!;
    const statements = (resolve(policy.Properties['PolicyDocument']) as { Statement: Statement[] }).Statement;
    const jobCalls = statements.find((s) => asList(s.Action).includes('iot:CreateJob'))!;
    expect(asList(jobCalls.Resource)).toEqual([`${IOT}:job/*`, `${IOT}:thing/cloudcam-*`]);
    const put = statements.find((s) => asList(s.Action).includes('s3:PutObject'))!;
    expect(asList(put.Resource)).toEqual([`getatt:${bucketId()}.Arn/*`]);
    const pass = statements.find((s) => asList(s.Action).includes('iam:PassRole'))!;
    expect(asList(pass.Resource)).toEqual([matching(/^getatt:JobsPresignRole[0-9A-F]+\.Arn$/)]);
    expect(pass.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'iot.amazonaws.com' } });
  });
});
