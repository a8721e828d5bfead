import { parseCommandArgs, positiveInt, UsageError, type Command } from './command.js';

export const allowReenrolCommand: Command = {
  path: ['fleet', 'allow-reenrol'],
  summary: 'let an enrolled camera enrol by claim once more (e.g. after a factory reset)',
  help: `Usage: cloudcam fleet allow-reenrol --serial SERIAL [--devcloud DIR] [--minutes N] [--thing-prefix PREFIX]

A camera whose thing already has an active certificate cannot enrol again with the claim certificate:
the pre-provisioning hook refuses it, so that no holder of the claim key can take a camera's identity
with the serial printed on its label. When the camera really lost its identity (factory reset, new
storage), this records a one-time permission for its serial. Its next enrolment (within N minutes) is
let through, uses the permission up, and deactivates the thing's old certificate: from then on that
certificate cannot connect. A second re-enrolment needs the command again.

Without --devcloud it records the permission on the thing in AWS IoT (thing attribute
reenrolAllowedUntil, epoch seconds) with the standard AWS credential chain and AWS_REGION. Right
needed: iot:UpdateThing on the thing (the stack output ReenrolOperatorPolicyArn grants exactly that).

Options:
  --serial SERIAL         the camera's serial number (12 hex digits, on its label; case does not matter)
  --devcloud DIR          the state dir of a running devcloud
  --minutes N             how long the permission stands (default 60, at most 1440)
  --thing-prefix PREFIX   the stack's thing name prefix (default cloudcam-; devcloud: its own)
`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      serial: { type: 'string' },
      devcloud: { type: 'string' },
      minutes: { type: 'string' },
      'thing-prefix': { type: 'string' },
    });
    const rules = await import('../cloud/enrolment-rules.js');
    const bySerial = rules.decideSerial({ SerialNumber: values.serial ?? '' }, undefined);
    if (values.serial === undefined || !bySerial.allow || bySerial.serial === undefined) {
      throw new UsageError(`--serial must be the camera's 12-hex-digit serial number, got ${JSON.stringify(values.serial ?? '')}`);
    }
    const serial = bySerial.serial;
    const minutes = positiveInt('minutes', values.minutes, rules.DEFAULT_REENROL_WINDOW_MINUTES);
    if (minutes > rules.MAX_REENROL_WINDOW_MINUTES) throw new UsageError(`--minutes is at most ${rules.MAX_REENROL_WINDOW_MINUTES} (a day): a permission should not wait around`);
    const until = Date.now() + minutes * 60_000;

    let thingName: string;
    let where: string;
    if (values.devcloud !== undefined) {
      const { readDevcloudInfo, PROVISIONED_FILE } = await import('../devcloud/info.js');
      const { readFile } = await import('node:fs/promises');
      const path = await import('node:path');
      const info = await readDevcloudInfo(values.devcloud);
      thingName = `${values['thing-prefix'] ?? info.provisioning.thingNamePrefix}${serial}`;
      const provisioned = JSON.parse(await readFile(path.join(info.stateDir, PROVISIONED_FILE), 'utf8').catch(() => '{}')) as Record<string, string>;
      if (!Object.values(provisioned).includes(thingName)) {
        throw new UsageError(`no camera with serial ${serial} is enrolled in this devcloud (no active certificate of ${thingName}): it can enrol without a permission`);
      }
      const { writeReenrolPermit } = await import('../devcloud/identity/reenrol-permits.js');
      where = await writeReenrolPermit(info.stateDir, thingName, until);
    } else {
      thingName = `${values['thing-prefix'] ?? rules.DEFAULT_THING_NAME_PREFIX}${serial}`;
      const { IoTClient } = await import('@aws-sdk/client-iot');
      const { allowReenrolmentInAws } = await import('../cloud/iot-registry.js');
      const iot = new IoTClient({});
      try {
        await allowReenrolmentInAws(iot, thingName, until);
      } finally {
        iot.destroy();
      }
      where = `thing attribute ${rules.REENROL_ATTRIBUTE} of ${thingName}`;
    }
    process.stdout.write(
      `re-enrolment of ${thingName} allowed once, until ${new Date(until).toISOString()} (${where}).\n` +
        `The camera's next enrolment with the claim certificate takes the thing over and deactivates its current certificate.\n`,
    );
    return 0;
  },
};
