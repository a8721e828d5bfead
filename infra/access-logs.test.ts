import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudcamStack } from './cloudcam-stack.js';
import { placeholderAssets } from './test-template.js';

interface Statement {
  Effect: string;
  Action: string | string[];
  Principal?: unknown;
  Condition?: unknown;
}

let dir: string;
let lambdaDir: string;
let template: Template;
let resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const stack = (id: string, props: { accessLogRetentionDays?: number } = {}): Template =>
  Template.fromStack(new CloudcamStack(new App({ outdir: path.join(dir, `cdk.out-${id}`) }), id, { lambdaDir, ...props }));

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-access-logs-'));
  ({ lambdaDir } = await placeholderAssets(dir));
  template = stack('Cloudcam');
  resources = template.toJSON()['Resources'] as typeof resources;
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('access logs (who read a picture, who uploaded a package)', () => {
  const logBucketId = (): string => ofType('AWS::S3::Bucket').find(([id]) => id.startsWith('AccessLogs'))![0];

  it('the snapshot and release buckets log every request into the access-log bucket, each under its own prefix', () => {
    for (const [bucket, prefix] of [['Snapshots', 's3/snapshots/'], ['Releases', 's3/releases/']] as const) {
      const [, b] = ofType('AWS::S3::Bucket').find(([id]) => id.startsWith(bucket))!;
      expect(b.Properties['LoggingConfiguration'], bucket).toEqual({ DestinationBucketName: { Ref: logBucketId() }, LogFilePrefix: prefix });
    }
  });

  it('the log bucket is private, encrypted, TLS-only, expires logs (90 days by default) and admits S3 log delivery of this account only', () => {
    const [, logs] = ofType('AWS::S3::Bucket').find(([id]) => id.startsWith('AccessLogs'))!;
    expect(logs.Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LifecycleConfiguration: { Rules: expect.arrayContaining([expect.objectContaining({ ExpirationInDays: 90, Status: 'Enabled' })]) as unknown },
    });
    expect(logs.Properties['LoggingConfiguration']).toBeUndefined(); // it does not log into itself
    const [, policy] = ofType('AWS::S3::BucketPolicy').find(([, p]) => JSON.stringify(p.Properties['Bucket']) === JSON.stringify({ Ref: logBucketId() }))!;
    const statements = (policy.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement;
    expect(statements).toEqual(expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]));
    const delivery = statements.find((s) => JSON.stringify(s.Principal).includes('logging.s3.amazonaws.com'))!;
    expect(delivery.Action).toBe('s3:PutObject');
    expect(JSON.stringify(delivery.Condition)).toContain('aws:SourceAccount');
    const retention = stack('Retention', { accessLogRetentionDays: 7 });
    retention.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-access-logs', ExpirationInDays: 7 })]) } });
  }, 120_000);
});
