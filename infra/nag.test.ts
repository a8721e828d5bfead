import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudcamStack, type CloudcamStackProps } from './cloudcam-stack.js';
import { placeholderAssets } from './test-template.js';

/**
 * AWS's own best-practice rules (cdk-nag, AwsSolutions pack) on the synthesized stack, without and with
 * the viewer and with the optional settings: any finding not fixed or acknowledged in the stack's code
 * (infra/nag.ts) fails here, listed with its rule id and resource. docs/security.md ("The deployed
 * stack") says why each acknowledged one is kept.
 */

let dir: string;
let assets: { lambdaDir: string; webDir: string };
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-nag-'));
  assets = await placeholderAssets(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let synths = 0;
/** An app writing its assembly under the test's temp dir (removed afterwards), not a fresh one in /tmp. */
const newApp = (): App => new App({ outdir: path.join(dir, `cdk.out-${synths++}`) });

function findings(props: Omit<CloudcamStackProps, 'lambdaDir'>): string[] {
  const app = newApp();
  const stack = new CloudcamStack(app, 'Cloudcam', { lambdaDir: assets.lambdaDir, ...props });
  app.synth(); // aspects (bucket notifications, policies) run first, as at deploy
  const report = new AwsSolutionsChecks(app).validateScope(stack);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.severity ?? '?'} ${v.ruleName} at ${r.constructPath ?? '?'}: ${v.description}`));
}

const viewer = () => ({ webDir: assets.webDir, cognitoDomainPrefix: 'cloudcam-test' });

// The first stack synthesized in a worker loads all of aws-cdk-lib: seconds under load.
describe('cdk-nag AwsSolutions: no unacknowledged error or warning', { timeout: 120_000 }, () => {
  it('the stack without the viewer', () => {
    expect(findings({})).toEqual([]);
  });

  it('the stack with the viewer (defaults: MFA optional, no custom domain, no WAF)', () => {
    expect(findings({ viewer: viewer() })).toEqual([]);
  });

  it('the viewer with MFA required, a custom domain, WAF and no reserved concurrency', () => {
    const certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
    expect(
      findings({
        env: { region: 'us-east-1' },
        handlerConcurrency: 'off',
        viewer: { ...viewer(), mfa: 'required', domain: { name: 'viewer.example.com', certificateArn }, wafRateLimit: 1000, apiConcurrency: 'off' },
      }),
    ).toEqual([]);
  });

  it('a finding nobody acknowledged is reported with its rule id and resource (the check can fail)', () => {
    const app = newApp();
    const stack = new CloudcamStack(app, 'Cloudcam', { lambdaDir: assets.lambdaDir, viewer: viewer() });
    // An extra, unacknowledged public bucket: what a careless change would add.
    new s3.Bucket(stack, 'Careless');
    app.synth();
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    const named = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath ?? ''}`));
    expect(named).toEqual(expect.arrayContaining(['AwsSolutions-S1 Cloudcam/Careless/Resource', 'AwsSolutions-S10 Cloudcam/Careless/Resource']));
  });
});
