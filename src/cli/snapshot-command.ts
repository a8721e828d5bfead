import { parseCommandArgs, positiveInt, UsageError, type Command } from './command.js';
import { cloudTarget, requireThing } from './cloud-target.js';

const AWS_ENV_HELP = `With --devcloud DIR it talks to the devcloud running with that state dir. Without it, it talks to
AWS with the standard AWS credential chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, SSO, ...), configured by
the handler's environment variables:
  CLOUDCAM_BUCKET (required), AWS_REGION, CLOUDCAM_SHADOW_NAME, CLOUDCAM_EXPIRES_SECONDS, CLOUDCAM_MAX_BYTES`;

export const snapshotRequestCommand: Command = {
  path: ['snapshot', 'request'],
  summary: 'ask a camera for a snapshot (runs the cloud handler once for a thing)',
  help: `Usage: cloudcam snapshot request --thing THING [--devcloud DIR]

Runs the cloud handler once: presigns an S3 POST for THING and writes it into the thing's shadow as
desired.snapshot. The agent on the camera uploads the snapshot and reports back in the shadow.

${AWS_ENV_HELP}
Rights needed in AWS: s3:PutObject on the bucket's objects, iot:UpdateThingShadow on the thing.

Options:
  --thing THING    the thing name (e.g. camera-1)
  --devcloud DIR   the state dir of a running devcloud
`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, { thing: { type: 'string' }, devcloud: { type: 'string' } });
    const thing = await requireThing(values.thing);
    const config = await cloudTarget(values.devcloud, thing);
    const { createCloudHandler, whyNotRequested } = await import('../cloud/handler.js');
    const handler = createCloudHandler(config);
    try {
      const result = await handler.handle({ kind: 'snapshot', thing, reason: 'operator' });
      if (result.action !== 'requested') throw new Error(`not requested: ${whyNotRequested(result)}`);
      process.stdout.write(`requested snapshot ${result.request.id} from ${thing}: it will land at s3://${config.bucket}/${result.key} (presigned POST valid until ${result.request.expiresAt})\n`);
      return 0;
    } finally {
      handler.destroy();
    }
  },
};

/** S3's limit for a presigned URL: 7 days. */
const MAX_URL_SECONDS = 604800;

export const snapshotLatestCommand: Command = {
  path: ['snapshot', 'latest'],
  summary: "print a presigned GET URL of a thing's newest snapshot",
  help: `Usage: cloudcam snapshot latest --thing THING [--devcloud DIR] [--expires SECONDS] [--events]

Finds the newest snapshot under s3://BUCKET/THING/ (ListObjectsV2) and prints a presigned GET URL for
it on stdout, alone on its line, so that \`curl -o snap.jpg "$(cloudcam snapshot latest --thing T)"\`
works. The key, size and time go to stderr. Exit code 1 when the thing has no snapshot.
Event snapshots (under THING/events/) are left out; --events finds the newest of those instead.

${AWS_ENV_HELP}
Rights needed in AWS: s3:ListBucket on the bucket, s3:GetObject on the thing's objects.

Options:
  --thing THING        the thing name (e.g. camera-1)
  --devcloud DIR       the state dir of a running devcloud
  --expires SECONDS    life of the URL (default 3600, at most 604800: S3's limit)
  --events             the newest event snapshot (THING/events/...) instead of a requested one
`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, { thing: { type: 'string' }, devcloud: { type: 'string' }, expires: { type: 'string' }, events: { type: 'boolean' } });
    const thing = await requireThing(values.thing);
    const expiresInSeconds = positiveInt('expires', values.expires, 3600);
    if (expiresInSeconds > MAX_URL_SECONDS) throw new UsageError(`--expires ${expiresInSeconds} is longer than S3 allows for a presigned URL: use at most ${MAX_URL_SECONDS} (7 days)`);
    const config = await cloudTarget(values.devcloud, thing);
    const { createS3Client } = await import('../cloud/handler.js');
    const { findLatestSnapshot } = await import('../cloud/latest-snapshot.js');
    const s3 = createS3Client(config);
    try {
      const events = values.events === true;
      const latest = await findLatestSnapshot(s3, { bucket: config.bucket, thing, expiresInSeconds, events });
      if (!latest) {
        process.stderr.write(
          events
            ? `no event snapshot of ${thing} in s3://${config.bucket}/${thing}/events/ (the agent uploads one when a trigger in events.triggers fires)\n`
            : `no snapshot of ${thing} in s3://${config.bucket}/${thing}/ (ask for one: cloudcam snapshot request --thing ${thing})\n`,
        );
        return 1;
      }
      const when = latest.lastModified ? `, ${latest.lastModified.toISOString()}` : '';
      process.stderr.write(`s3://${config.bucket}/${latest.key} (${latest.bytes} bytes${when}); URL valid for ${expiresInSeconds} s\n`);
      process.stdout.write(`${latest.url}\n`);
      return 0;
    } finally {
      s3.destroy();
    }
  },
};
