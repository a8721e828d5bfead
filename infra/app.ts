import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { REPO_ROOT, bundleLambdas } from './bundle.js';
import { CloudcamStack } from './cloudcam-stack.js';
import { writeWebApp } from '../src/viewer/web-bundle.js';

/**
 * The CDK app: bundles the Lambdas with esbuild, then synthesizes the stack. Run by `make
 * cloud-synth` (no AWS account, no network) and by the `cdk` CLI through cdk.json (deploy).
 * Settings come from CDK context: `-c stackName=... -c allowedSerials=ACCC8E000001,ACCC8E000002 ...`
 */
const app = new App();
const context = (key: string): string | undefined => {
  const v: unknown = app.node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.map(String).join(',');
  throw new Error(`context ${key} must be a string, got ${JSON.stringify(v)}`);
};
const list = (value: string | undefined): string[] | undefined => value?.split(/[\s,]+/).filter((s) => s !== '');
const days = context('snapshotRetentionDays');
if (days !== undefined && !/^[1-9]\d*$/.test(days)) throw new Error(`context snapshotRetentionDays is "${days}": give a whole number of days, e.g. -c snapshotRetentionDays=30`);

const lambdaDir = path.join(REPO_ROOT, 'build', 'lambda');
const sizes = await bundleLambdas(lambdaDir);
for (const [name, { bytes }] of Object.entries(sizes)) process.stderr.write(`bundled ${name}: ${(bytes / 1024).toFixed(0)} KB\n`);

// The viewer is deployed when its Cognito domain prefix is given: -c viewerDomainPrefix=my-cloudcam
const viewerDomainPrefix = context('viewerDomainPrefix');
const webDir = path.join(REPO_ROOT, 'build', 'viewer-web');
if (viewerDomainPrefix !== undefined) await writeWebApp(webDir);

const allowedSerials = list(context('allowedSerials'));
const viewerOrigins = list(context('viewerOrigins'));
const shadowName = context('shadowName');
new CloudcamStack(app, context('stackName') ?? 'Cloudcam', {
  lambdaDir,
  ...(shadowName !== undefined ? { shadowName } : {}),
  ...(days !== undefined ? { snapshotRetentionDays: Number(days) } : {}),
  ...(allowedSerials !== undefined ? { allowedSerials } : {}),
  ...(viewerOrigins !== undefined ? { viewerOrigins } : {}),
  ...(viewerDomainPrefix !== undefined ? { viewer: { webDir, cognitoDomainPrefix: viewerDomainPrefix } } : {}),
  description: 'cloudcam: snapshot bucket, cloud handler, IoT rules and policies, fleet provisioning',
});
app.synth();
