import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { REPO_ROOT, bundleLambdas } from './bundle.js';
import { CloudcamStack } from './cloudcam-stack.js';
import { readSettings, SettingsError } from './settings.js';
import { writeWebApp } from '../src/viewer/web-bundle.js';

/**
 * The CDK app: bundles the Lambdas with esbuild, then synthesizes the stack. Run by `make
 * cloud-synth` (no AWS account, no network) and by the `cdk` CLI through cdk.json (deploy).
 * Settings come from CDK context (infra/settings.ts, docs/deploy.md):
 * `-c stackName=... -c allowedSerials=ACCC8E000001,ACCC8E000002 -c viewerDomainPrefix=... ...`
 */
const app = new App();
const settings = (() => {
  try {
    return readSettings((key) => app.node.tryGetContext(key));
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    process.stderr.write(`${err.message}\n`); // the problems, not a stack trace
    process.exit(2);
  }
})();

const lambdaDir = path.join(REPO_ROOT, 'build', 'lambda');
const sizes = await bundleLambdas(lambdaDir);
for (const [name, { bytes }] of Object.entries(sizes)) process.stderr.write(`bundled ${name}: ${(bytes / 1024).toFixed(0)} KB\n`);

// The viewer is deployed when its Cognito domain prefix is given: -c viewerDomainPrefix=my-cloudcam
const webDir = path.join(REPO_ROOT, 'build', 'viewer-web');
if (settings.viewerDomainPrefix !== undefined) await writeWebApp(webDir);

new CloudcamStack(app, settings.stackName, {
  lambdaDir,
  ...settings.stack,
  ...(settings.viewerDomainPrefix !== undefined ? { viewer: { webDir, cognitoDomainPrefix: settings.viewerDomainPrefix, ...settings.viewer } } : {}),
  description: 'cloudcam: snapshot bucket, cloud handler, IoT rules and policies, fleet provisioning',
});
app.synth();
