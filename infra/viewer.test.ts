import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeWebApp } from '../src/viewer/web-bundle.js';
import { bundleLambdas } from './bundle.js';
import { CloudcamStack } from './cloudcam-stack.js';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}
const asList = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);

let dir: string;
let template: Template;
let resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const policyOf = (rolePrefix: string): Statement[] =>
  ofType('AWS::IAM::Policy')
    .filter(([id]) => id.startsWith(rolePrefix))
    .flatMap(([, r]) => (r.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-viewer-cdk-'));
  await bundleLambdas(path.join(dir, 'lambda'));
  await writeWebApp(path.join(dir, 'web'));
  const stack = new CloudcamStack(new App(), 'Cloudcam', { lambdaDir: path.join(dir, 'lambda'), viewer: { webDir: path.join(dir, 'web'), cognitoDomainPrefix: 'cloudcam-test' } });
  template = Template.fromStack(stack);
  resources = template.toJSON()['Resources'] as typeof resources;
}, 90_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the viewer in AWS (template)', () => {
  it('serves the app from a private bucket through CloudFront with origin access control, over HTTPS only', () => {
    const [, site] = ofType('AWS::S3::Bucket').find(([id]) => id.startsWith('ViewerSite'))!;
    expect(site.Properties['PublicAccessBlockConfiguration']).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }),
        CacheBehaviors: Match.arrayWith([Match.objectLike({ PathPattern: '/api/*' }), Match.objectLike({ PathPattern: '/s/*' })]),
      }),
    });
    // No distribution-wide error pages: they would turn the API's 401/403 answers into the app's 200.
    const [, cdn] = ofType('AWS::CloudFront::Distribution')[0]!;
    expect((cdn.Properties['DistributionConfig'] as Record<string, unknown>)['CustomErrorResponses']).toBeUndefined();
    template.hasResourceProperties('AWS::CloudFront::Function', { FunctionCode: Match.stringLikeRegexp("'/callback'") });
  });

  it('signs in with a Cognito user pool: no self sign-up, a public client with the code flow only', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', { AdminCreateUserConfig: { AllowAdminCreateUserOnly: true } });
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: ['openid'],
      AllowedOAuthFlowsUserPoolClient: true,
    });
    template.resourceCountIs('AWS::Cognito::UserPoolDomain', 1);
  });

  it('the API Lambda reads shadows of the named shadow only, lists things, reads the share key and serves live view\'s signalling channels; nothing else', () => {
    const statements = policyOf('ViewerApiRole');
    const actions = statements.flatMap((s) => asList(s.Action)).sort();
    expect(actions).toEqual([
      'iot:DescribeThing',
      'iot:GetThingShadow',
      'iot:ListThings',
      'iot:UpdateThingShadow',
      // live view (infra/live.ts): on cloudcam-* channels, never as MASTER
      'kinesisvideo:ConnectAsViewer',
      'kinesisvideo:CreateSignalingChannel',
      'kinesisvideo:DescribeSignalingChannel',
      'kinesisvideo:GetIceServerConfig',
      'kinesisvideo:GetSignalingChannelEndpoint',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
    for (const s of statements) if (JSON.stringify(s.Resource) === '"*"') expect(s.Action).toBe('iot:ListThings');
    const shadow = statements.find((s) => asList(s.Action).includes('iot:GetThingShadow'))!;
    expect(JSON.stringify(shadow.Resource)).toContain(':thing/*/cloudcam');
  });

  it('the thumbnail Lambda runs on arm64, reads snapshots and may write under thumbnails/ only', () => {
    const statements = policyOf('ViewerThumbnailRole');
    const put = statements.find((s) => asList(s.Action).includes('s3:PutObject'))!;
    expect(JSON.stringify(put.Resource)).toMatch(/\/thumbnails\/\*"/);
    const fns = ofType('AWS::Lambda::Function').filter(([id]) => id.startsWith('Viewer'));
    expect(fns.map(([, f]) => f.Properties['Architectures'])).toEqual([['arm64'], ['arm64']]);
  });

  it('the snapshot bucket notifies the thumbnail Lambda on ObjectCreated for .jpg keys', () => {
    const [, notifications] = ofType('Custom::S3BucketNotifications')[0]!;
    const config = notifications.Properties['NotificationConfiguration'] as { LambdaFunctionConfigurations: { Events: string[]; Filter: unknown; LambdaFunctionArn: unknown }[] };
    expect(config.LambdaFunctionConfigurations).toHaveLength(1);
    expect(config.LambdaFunctionConfigurations[0]!.Events).toEqual(['s3:ObjectCreated:*']);
    expect(JSON.stringify(config.LambdaFunctionConfigurations[0]!.Filter)).toContain('.jpg');
    expect(JSON.stringify(config.LambdaFunctionConfigurations[0]!.LambdaFunctionArn)).toContain('ViewerThumbnail');
  });

  it('the share key is a generated secret the API is told by ARN', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    const [, api] = ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('ViewerApi'))!;
    const env = (api.Properties['Environment'] as { Variables: Record<string, unknown> }).Variables;
    expect(Object.keys(env).sort()).toEqual(
      expect.arrayContaining(['CLOUDCAM_BUCKET', 'CLOUDCAM_SHADOW_NAME', 'CLOUDCAM_USER_POOL_ID', 'CLOUDCAM_VIEWER_CLIENT_ID', 'CLOUDCAM_SHARE_SECRET_ID', 'CLOUDCAM_THING_PREFIX']),
    );
  });
});
