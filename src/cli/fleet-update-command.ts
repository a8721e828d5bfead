import { parseCommandArgs, positiveInt, UsageError, type Command } from './command.js';
import { abortPercent } from './jobs-command.js';

export const fleetUpdateCommand: Command = {
  path: ['fleet', 'update'],
  summary: 'sign a package, upload it to the release bucket and create the cloudcam.update job',
  help: `Usage: cloudcam fleet update --package FILE (--thing T ... | --all) [--devcloud DIR] [--signing-key FILE]
         [--rollout-per-minute N] [--abort-failed-percent P] [--abort-min-executed N] [--timeout-minutes N]
         [--version V] [--architecture A] [--allow-downgrade] [--key-id ID] [--release-bucket B] [--wait]

Updates cameras remotely (docs/update.md): hashes the package (SHA-256), signs it with the release
key (ECDSA P-256 over a statement of its hash, size, version and architecture), uploads it to the
release bucket and creates an AWS IoT Jobs job whose cloudcam.update document points at it with a
presigned-URL placeholder; the Jobs service gives every camera a fresh presigned GET.

The version and architecture come from the package: an .eap's manifest.json, or a gateway tarball's
name cloudcam_{version}_linux-{arm64|armv7l|x64}.tar.gz; --version/--architecture for any other file.

With --devcloud the job goes to a running devcloud and is signed with its dev release key (which
only devcloud's agents trust). Without it: AWS with the standard credential chain, the release
bucket from --release-bucket or CLOUDCAM_RELEASE_BUCKET (stack output ReleaseBucket), the presign
role from CLOUDCAM_JOBS_PRESIGN_ROLE_ARN, and --signing-key is required.

Options:
  --package FILE            the .eap or gateway tarball to install
  --thing T                 a camera's thing name (repeat for more)
  --all                     every camera (devcloud: its cameras; AWS: things named --thing-prefix*)
  --thing-prefix PREFIX     with --all in AWS (default cloudcam-)
  --signing-key FILE        the release private key (PEM, P-256); its keyId is the file name without extension
  --key-id ID               the keyId the cameras know the key by (default: from the file name)
  --rollout-per-minute N    start at most N cameras per minute (default: all at once)
  --abort-failed-percent P  cancel the job when P% of finished cameras failed
  --abort-min-executed N    ... counted once N cameras finished (default: 10, or fewer cameras)
  --timeout-minutes N       an execution in progress longer than this ends TIMED_OUT (default 30:
                            longer than the agent's download and update.connectBoundMs, 10 minutes)
  --allow-downgrade         allow installing a version older than the running one (signed with the rest)
  --wait                    follow the job until every camera finished; exit 1 unless all SUCCEEDED
`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      package: { type: 'string' },
      thing: { type: 'string', multiple: true },
      all: { type: 'boolean' },
      'thing-prefix': { type: 'string' },
      devcloud: { type: 'string' },
      'signing-key': { type: 'string' },
      'key-id': { type: 'string' },
      'rollout-per-minute': { type: 'string' },
      'abort-failed-percent': { type: 'string' },
      'abort-min-executed': { type: 'string' },
      'timeout-minutes': { type: 'string' },
      version: { type: 'string' },
      architecture: { type: 'string' },
      'allow-downgrade': { type: 'boolean' },
      'release-bucket': { type: 'string' },
      wait: { type: 'boolean' },
    });
    if (!values.package) throw new UsageError('--package FILE is required: the .eap or gateway tarball to install');
    const thingsGiven = values.thing ?? [];
    if ((thingsGiven.length > 0) === (values.all === true)) throw new UsageError('name the cameras with --thing T (repeatable) or --all, not both');
    const failedPercent = values['abort-failed-percent'] === undefined ? undefined : abortPercent(values['abort-failed-percent']);
    const { runFleetUpdate } = await import('../fleet/fleet-update.js');
    return runFleetUpdate({
      packageFile: values.package,
      things: thingsGiven,
      all: values.all === true,
      thingPrefix: values['thing-prefix'] ?? 'cloudcam-',
      ...(values.devcloud !== undefined ? { devcloudDir: values.devcloud } : {}),
      ...(values['signing-key'] !== undefined ? { signingKeyFile: values['signing-key'] } : {}),
      ...(values['key-id'] !== undefined ? { keyId: values['key-id'] } : {}),
      ...(values['rollout-per-minute'] !== undefined ? { rolloutPerMinute: positiveInt('rollout-per-minute', values['rollout-per-minute'], 1) } : {}),
      ...(failedPercent !== undefined ? { abort: { failedPercent, minExecuted: values['abort-min-executed'] === undefined ? undefined : positiveInt('abort-min-executed', values['abort-min-executed'], 1) } } : {}),
      timeoutMinutes: positiveInt('timeout-minutes', values['timeout-minutes'], 30),
      ...(values.version !== undefined ? { version: values.version } : {}),
      ...(values.architecture !== undefined ? { architecture: values.architecture } : {}),
      allowDowngrade: values['allow-downgrade'] === true,
      ...((values['release-bucket'] ?? process.env['CLOUDCAM_RELEASE_BUCKET']) ? { releaseBucket: values['release-bucket'] ?? process.env['CLOUDCAM_RELEASE_BUCKET'] } : {}),
      wait: values.wait === true,
      out: (line) => process.stdout.write(`${line}\n`),
    });
  },
};
