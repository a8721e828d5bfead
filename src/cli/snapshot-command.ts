import { parseCommandArgs, UsageError, type Command } from './command.js';

export const snapshotRequestCommand: Command = {
  path: ['snapshot', 'request'],
  summary: 'ask a camera for a snapshot (runs the cloud handler once for a thing)',
  help: `Usage: cloudcam snapshot request --thing THING [--devcloud DIR]

Runs the cloud handler once: presigns an S3 POST for THING and writes it into the thing's shadow as
desired.snapshot. The agent on the camera uploads the snapshot and reports back in the shadow.

With --devcloud DIR it talks to the devcloud running with that state dir. Without it, it talks to
AWS with the standard AWS credential chain, configured by the handler's environment variables:
  CLOUDCAM_BUCKET (required), AWS_REGION, CLOUDCAM_SHADOW_NAME, CLOUDCAM_EXPIRES_SECONDS, CLOUDCAM_MAX_BYTES

Options:
  --thing THING    the thing name (e.g. camera-1)
  --devcloud DIR   the state dir of a running devcloud
`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, { thing: { type: 'string' }, devcloud: { type: 'string' } });
    const thing = values.thing;
    if (!thing) throw new UsageError('--thing THING is required');
    const { THING_NAME_PATTERN } = await import('../protocol/topics.js');
    if (!THING_NAME_PATTERN.test(thing)) throw new UsageError(`--thing "${thing}" is not a valid thing name (1-128 of letters, digits, ':', '_', '-')`);
    const { createCloudHandler } = await import('../cloud/handler.js');
    const { loadCloudConfig } = await import('../cloud/config.js');
    let config;
    if (values.devcloud !== undefined) {
      const { readDevcloudInfo } = await import('../devcloud/info.js');
      const info = await readDevcloudInfo(values.devcloud);
      if (!(thing in info.devices)) throw new UsageError(`devcloud has no thing "${thing}"; it has ${Object.keys(info.devices).join(', ')}`);
      config = {
        ...loadCloudConfig({ CLOUDCAM_BUCKET: info.s3.bucket, AWS_REGION: info.region, CLOUDCAM_SHADOW_NAME: info.shadowName }),
        s3Endpoint: info.s3.url,
        iotDataEndpoint: info.dataPlane.url,
        credentials: { accessKeyId: info.s3.accessKeyId, secretAccessKey: info.s3.secretAccessKey },
      };
    } else {
      config = loadCloudConfig();
    }
    const handler = createCloudHandler(config);
    try {
      const result = await handler.handle({ kind: 'snapshot', thing, reason: 'operator' });
      if (result.action !== 'requested') throw new Error(`not requested: ${result.why}`);
      process.stdout.write(`requested snapshot ${result.request.id} from ${thing}: it will land at s3://${config.bucket}/${result.key} (presigned POST valid until ${result.request.expiresAt})\n`);
      return 0;
    } finally {
      handler.destroy();
    }
  },
};
