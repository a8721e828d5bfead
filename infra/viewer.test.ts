import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeWebApp } from '../src/viewer/web-bundle.js';
import { viewerContentSecurityPolicy } from '../src/viewer/csp.js';
import { ORIGIN_VERIFY_HEADER } from '../src/viewer/api/origin-verify.js';
import { bundleLambdas } from './bundle.js';
import { CloudcamStack, type CloudcamStackProps } from './cloudcam-stack.js';
import { resolve } from './test-template.js';
import type { ViewerSettings } from './viewer.js';

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
}, 240_000);
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

  it('the API Lambda reads shadows of the named shadow only, lists things, reads the share key and the origin secret, and serves live view\'s signalling channels; nothing else', () => {
    const statements = policyOf('ViewerApiRole');
    const actions = statements.flatMap((s) => asList(s.Action)).sort();
    expect(actions).toEqual([
      'iot:DescribeThing',
      'iot:GetThingShadow',
      'iot:ListThings',
      'iot:Publish', // the go-live request only (below)
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
      'secretsmanager:DescribeSecret', // the share key
      'secretsmanager:DescribeSecret', // the origin secret
      'secretsmanager:GetSecretValue',
      'secretsmanager:GetSecretValue',
    ]);
    for (const s of statements) if (JSON.stringify(s.Resource) === '"*"') expect(s.Action).toBe('iot:ListThings');
    const shadow = statements.find((s) => asList(s.Action).includes('iot:GetThingShadow'))!;
    // The fleet's things only (prefix + serial), like DescribeThing: not every thing in the account.
    expect(resolve(shadow.Resource)).toBe('arn:aws:iot:eu-north-1:123456789012:thing/cloudcam-*/cloudcam');
    // Live view asks a camera to go live on its own request topic (src/protocol/live-request.ts) and may publish nowhere else.
    const publish = statements.find((s) => asList(s.Action).includes('iot:Publish'))!;
    expect(asList(publish.Action)).toEqual(['iot:Publish']);
    expect(resolve(publish.Resource)).toBe('arn:aws:iot:eu-north-1:123456789012:topic/cloudcam/cloudcam-*/live/request');
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
    template.resourceCountIs('AWS::SecretsManager::Secret', 2); // the share key and the origin secret
    const [, api] = ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('ViewerApi'))!;
    const env = (api.Properties['Environment'] as { Variables: Record<string, unknown> }).Variables;
    expect(Object.keys(env).sort()).toEqual(
      expect.arrayContaining([
        'CLOUDCAM_BUCKET',
        'CLOUDCAM_SHADOW_NAME',
        'CLOUDCAM_USER_POOL_ID',
        'CLOUDCAM_VIEWER_CLIENT_ID',
        'CLOUDCAM_SHARE_SECRET_ID',
        'CLOUDCAM_THING_PREFIX',
        'CLOUDCAM_ORIGIN_SECRET_ID',
        'CLOUDCAM_VIEWER_ORIGIN',
      ]),
    );
  });

  it("the API lists event keys only as far back as the bucket keeps snapshots (CLOUDCAM_EVENT_DAYS = the bucket's expiry)", () => {
    const [, api] = ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('ViewerApi'))!;
    const env = (api.Properties['Environment'] as { Variables: Record<string, unknown> }).Variables;
    const rules = (ofType('AWS::S3::Bucket').map(([, b]) => b.Properties['LifecycleConfiguration']) as ({ Rules: { Id?: string; ExpirationInDays?: number }[] } | undefined)[])
      .flatMap((c) => c?.Rules ?? [])
      .filter((r) => r.Id === 'expire-snapshots');
    expect(rules).toHaveLength(1);
    expect(env['CLOUDCAM_EVENT_DAYS']).toBe(String(rules[0]!.ExpirationInDays));
  });
});

describe('the deployed viewer: headers, throttling, concurrency, sign-in, logs (issue 20)', () => {
  const idOf = (type: string, prefix: string): string => ofType(type).find(([id]) => id.startsWith(prefix))![0];
  const distributionConfig = (): Record<string, unknown> => ofType('AWS::CloudFront::Distribution')[0]![1].Properties['DistributionConfig'] as Record<string, unknown>;

  it('every response carries the CSP devcloud sends (same function, AWS origins), HSTS, nosniff, no framing and no referrer', () => {
    const policies = ofType('AWS::CloudFront::ResponseHeadersPolicy');
    expect(policies).toHaveLength(1);
    const [policyId, policy] = policies[0]!;
    const headers = (policy.Properties['ResponseHeadersPolicyConfig'] as { SecurityHeadersConfig: Record<string, Record<string, unknown>> }).SecurityHeadersConfig;
    // The origins the app uses in AWS: presigned GETs on the bucket's regional host, Cognito's hosted domain.
    const expected = viewerContentSecurityPolicy({
      images: `https://ref:${idOf('AWS::S3::Bucket', 'Snapshots')}.s3.eu-north-1.amazonaws.com`,
      signIn: `https://ref:${idOf('AWS::Cognito::UserPoolDomain', 'ViewerUsersDomain')}.auth.eu-north-1.amazoncognito.com`,
      signalling: 'wss://*.kinesisvideo.eu-north-1.amazonaws.com',
    });
    expect(resolve(headers['ContentSecurityPolicy']!['ContentSecurityPolicy'])).toBe(expected);
    expect(expected).toContain("frame-ancestors 'none'");
    expect(headers['ContentSecurityPolicy']!['Override']).toBe(true);
    expect(headers['StrictTransportSecurity']).toEqual({ AccessControlMaxAgeSec: 31_536_000, IncludeSubdomains: true, Override: true });
    expect(headers['ContentTypeOptions']).toEqual({ Override: true });
    expect(headers['FrameOptions']).toEqual({ FrameOption: 'DENY', Override: true });
    expect(headers['ReferrerPolicy']).toEqual({ ReferrerPolicy: 'no-referrer', Override: true });
    // On the app's files and on the API's answers (share-link pages included).
    const config = distributionConfig();
    const behaviors = [config['DefaultCacheBehavior'], ...(config['CacheBehaviors'] as unknown[])] as Record<string, unknown>[];
    for (const b of behaviors) expect(b['ResponseHeadersPolicyId'], JSON.stringify(b['PathPattern'] ?? 'default')).toEqual({ Ref: policyId });
  });

  it('the API stage is the only one, throttled (25/s, burst 50 by default) and access-logged without paths (share tokens are paths)', () => {
    const stages = ofType('AWS::ApiGatewayV2::Stage');
    expect(stages).toHaveLength(1);
    const [, stage] = stages[0]!;
    expect(stage.Properties).toMatchObject({ StageName: '$default', AutoDeploy: true, DefaultRouteSettings: { ThrottlingRateLimit: 25, ThrottlingBurstLimit: 50 } });
    const log = stage.Properties['AccessLogSettings'] as { DestinationArn: unknown; Format: string };
    expect(log.DestinationArn).toEqual({ 'Fn::GetAtt': [idOf('AWS::Logs::LogGroup', 'ViewerApiAccessLog'), 'Arn'] });
    expect(log.Format).toContain('$context.identity.sourceIp');
    expect(log.Format).not.toMatch(/\$context\.(path|routeKey)|rawPath|querystring/i);
  });

  it("the API Lambda's concurrency is capped (10 by default): junk calls cannot use up the account's Lambda concurrency", () => {
    const [, api] = ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('ViewerApi'))!;
    expect(api.Properties['ReservedConcurrentExecutions']).toBe(10);
  });

  it('CloudFront sends the API a secret origin header (a Secrets Manager reference, not a value in the template) that the Lambda checks', () => {
    const origins = distributionConfig()['Origins'] as { DomainName: unknown; OriginCustomHeaders?: { HeaderName: string; HeaderValue: unknown }[] }[];
    const apiOrigin = origins.find((o) => String(resolve(o.DomainName)).includes('execute-api'))!;
    const secretId = idOf('AWS::SecretsManager::Secret', 'ViewerOriginSecret');
    expect(apiOrigin.OriginCustomHeaders).toHaveLength(1);
    expect(apiOrigin.OriginCustomHeaders![0]!.HeaderName).toBe(ORIGIN_VERIFY_HEADER);
    expect(resolve(apiOrigin.OriginCustomHeaders![0]!.HeaderValue)).toBe(`{{resolve:secretsmanager:ref:${secretId}:SecretString:::}}`);
    const [, api] = ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('ViewerApi'))!;
    const env = (api.Properties['Environment'] as { Variables: Record<string, unknown> }).Variables;
    expect(env['CLOUDCAM_ORIGIN_SECRET_ID']).toEqual({ Ref: secretId });
    // Share links are made under the viewer's own address, not the API's (which refuses them now).
    expect(resolve(env['CLOUDCAM_VIEWER_ORIGIN'])).toBe(`https://getatt:${idOf('AWS::CloudFront::Distribution', 'ViewerCdn')}.DomainName`);
    const read = policyOf('ViewerApiRole').find((s) => asList(s.Action).includes('secretsmanager:GetSecretValue') && JSON.stringify(s.Resource).includes(secretId));
    expect(read).toBeDefined();
  });

  it('Cognito: MFA optional by default with TOTP only (no SMS), passwords of 12+ with all four character classes', () => {
    const [, pool] = ofType('AWS::Cognito::UserPool')[0]!;
    expect(pool.Properties['MfaConfiguration']).toBe('OPTIONAL');
    expect(pool.Properties['EnabledMfas']).toEqual(['SOFTWARE_TOKEN_MFA']);
    expect(pool.Properties['Policies']).toMatchObject({
      PasswordPolicy: { MinimumLength: 12, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true },
    });
  });

  it('CloudFront and the site bucket log into the access-log bucket', () => {
    const logs = idOf('AWS::S3::Bucket', 'AccessLogs');
    expect(distributionConfig()['Logging']).toEqual({ Bucket: { 'Fn::GetAtt': [logs, 'RegionalDomainName'] }, Prefix: 'cloudfront/' });
    const [, site] = ofType('AWS::S3::Bucket').find(([id]) => id.startsWith('ViewerSite'))!;
    expect(site.Properties['LoggingConfiguration']).toEqual({ DestinationBucketName: { Ref: logs }, LogFilePrefix: 's3/viewer-site/' });
    // CloudFront's default domain: no custom certificate, so no TLS floor of ours (acknowledged in infra/viewer.ts).
    expect(distributionConfig()['ViewerCertificate']).toBeUndefined();
    expect(distributionConfig()['WebACLId']).toBeUndefined();
  });
});

// Each test here builds another stack: seconds each, much more on a loaded machine.
describe('the deployed viewer: operator settings', { timeout: 120_000 }, () => {
  const CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
  const build = (settings: Partial<ViewerSettings>, stackProps: Partial<CloudcamStackProps> = {}): Template =>
    Template.fromStack(
      new CloudcamStack(new App(), 'Variant', { lambdaDir: path.join(dir, 'lambda'), ...stackProps, viewer: { webDir: path.join(dir, 'web'), cognitoDomainPrefix: 'cloudcam-test', ...settings } }),
    );
  let custom: Template;
  beforeAll(() => {
    custom = build(
      { mfa: 'required', domain: { name: 'viewer.example.com', certificateArn: CERT }, wafRateLimit: 1000, apiThrottle: { rateLimit: 5, burstLimit: 8 }, apiConcurrency: 3 },
      { env: { region: 'us-east-1' } },
    );
  }, 120_000);

  it('a custom domain: its ACM certificate, TLSv1.2_2021 only, SNI; sign-in and share links use the domain', () => {
    custom.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Aliases: ['viewer.example.com'],
        ViewerCertificate: { AcmCertificateArn: CERT, MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' },
      }),
    });
    custom.hasResourceProperties('AWS::Cognito::UserPoolClient', { CallbackURLs: ['https://viewer.example.com/callback'], LogoutURLs: ['https://viewer.example.com'] });
    custom.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ CLOUDCAM_VIEWER_ORIGIN: 'https://viewer.example.com' }) } });
  });

  it('a certificate outside us-east-1 or a malformed domain is refused at synth, naming the fix', () => {
    expect(() => build({ domain: { name: 'viewer.example.com', certificateArn: CERT.replace('us-east-1', 'eu-north-1') } })).toThrow(/us-east-1/);
    expect(() => build({ domain: { name: 'https://viewer.example.com', certificateArn: CERT } })).toThrow(/viewerDomainName .* not a DNS name/);
  });

  it('WAF: a CloudFront web ACL blocking an IP address over its 5-minute rate, attached, and only in us-east-1', () => {
    custom.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'CLOUDFRONT',
      DefaultAction: { Allow: {} },
      Rules: [Match.objectLike({ Action: { Block: {} }, Statement: { RateBasedStatement: { Limit: 1000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } } })],
    });
    const acl = Object.keys(custom.findResources('AWS::WAFv2::WebACL'))[0]!;
    custom.hasResourceProperties('AWS::CloudFront::Distribution', { DistributionConfig: Match.objectLike({ WebACLId: { 'Fn::GetAtt': [acl, 'Arn'] } }) });
    const rules = custom.toJSON()['Rules'] as Record<string, { Assertions: { Assert: unknown }[] }>;
    expect(JSON.stringify(Object.values(rules).flatMap((r) => r.Assertions.map((a) => a.Assert)))).toContain('us-east-1');
    expect(() => build({ wafRateLimit: 5 })).toThrow(/viewerWafRateLimit is 5/);
    expect(() => build({ wafRateLimit: 1000 }, { env: { region: 'eu-north-1' } })).toThrow(/stack is for eu-north-1.*us-east-1/);
  });

  it('MFA required -> ON; off -> OFF with no second factor; throttling and concurrency follow the settings', () => {
    custom.hasResourceProperties('AWS::Cognito::UserPool', { MfaConfiguration: 'ON', EnabledMfas: ['SOFTWARE_TOKEN_MFA'] });
    custom.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 8 } });
    custom.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 3, Environment: { Variables: Match.objectLike({ CLOUDCAM_ORIGIN_SECRET_ID: Match.anyValue() }) } });
    const off = build({ mfa: 'off' });
    off.hasResourceProperties('AWS::Cognito::UserPool', { MfaConfiguration: 'OFF', EnabledMfas: Match.absent() });
  });
});
