import path from 'node:path';
import { parseCommandArgs, positiveInt, UsageError, type Command } from './command.js';
import { waitForStopSignal } from '../lib/signals.js';
import { CAMERA_PROFILE_NAMES, isCameraProfileName, type CameraProfileName } from '../devcloud/camera/profiles.js';

export const devcloudCommand: Command = {
  path: ['devcloud'],
  summary: 'run local stand-ins for AWS IoT, the shadow service, S3 and cameras',
  help: `Usage: cloudcam devcloud --state-dir DIR [--cameras N] [--claim-cameras N] [--broker mosquitto|aedes] [--service-accounts] [--camera-profile P[,P...]] [--jobs-minute-ms N] [--log-level LEVEL]

Starts, on 127.0.0.1 and free ports: a dev PKI (made on first start, reused after), an MQTT broker
with mutual TLS and a per-thing ACL, the AWS IoT device shadow service (MQTT and the data-plane REST
API), an S3 stand-in that checks presigned POSTs like S3 does, one VAPIX camera simulator per camera,
and the cloud handler behind stand-ins for the IoT rules.

When everything is up it writes DIR/devcloud.json (how to reach each part; see docs/devcloud.md) and
DIR/agents/camera-N.json (a ready agent config per camera). Uploaded snapshots land under DIR/s3/.
With --claim-cameras N it also simulates N cameras that enrol by fleet provisioning: their configs
(DIR/agents/claim-N.json) carry the claim certificate (DIR/pki/claim.crt) and no identity, and the
agent becomes thing cloudcam-{serial} on its first start.
Stop with Ctrl-C (SIGINT) or SIGTERM.

Options:
  --state-dir DIR     where certificates, state and uploads live (required)
  --cameras N         simulated cameras, named camera-1..camera-N (default 1)
  --claim-cameras N   simulated cameras that enrol by claim, claim-1..claim-N (default 0)
  --broker KIND       mosquitto (MQTT 3.1.1 and 5; default when installed) or aedes (in-process, 3.1.1)
  --service-accounts  each camera also serves 127.0.0.12 and its own D-Bus with the VAPIX service-account
                      stand-in (needs dbus-daemon); devcloud.json gives cameras.{thing}.serviceAccount
  --camera-profile P  the firmware the simulated cameras copy: axis-os-12 (default; Basic over HTTPS,
                      Digest MD5 over HTTP), axis-os-11 (Digest MD5, no opaque, stale=true on a reused
                      nonce) or axis-os-10 (Digest MD5 naming its algorithm, with opaque). A comma
                      list is given to the cameras in order (camera-1, camera-2, ...; claim cameras
                      after them), repeated as needed; devcloud.json names each camera's profile
  --jobs-minute-ms N  milliseconds in one minute of the Jobs service (timeouts, rollout rate; default
                      60000): tests shorten it to see a 1-minute step timeout in a second
  --log-level LEVEL   fatal|error|warn|info|debug (default info)
`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      'state-dir': { type: 'string' },
      cameras: { type: 'string' },
      'claim-cameras': { type: 'string' },
      broker: { type: 'string' },
      'service-accounts': { type: 'boolean' },
      'jobs-minute-ms': { type: 'string' },
      'camera-profile': { type: 'string' },
      'log-level': { type: 'string' },
    });
    if (!values['state-dir']) throw new UsageError('--state-dir DIR is required');
    const broker = values.broker;
    if (broker !== undefined && broker !== 'mosquitto' && broker !== 'aedes') throw new UsageError(`--broker must be mosquitto or aedes, got "${broker}"`);
    const cameras = positiveInt('cameras', values.cameras, 1);
    if (cameras > 200) throw new UsageError('--cameras must be at most 200');
    const claimCameras = values['claim-cameras'] === undefined || values['claim-cameras'] === '0' ? 0 : positiveInt('claim-cameras', values['claim-cameras'], 0);
    if (claimCameras > 200) throw new UsageError('--claim-cameras must be at most 200');
    const jobsMinuteMs = values['jobs-minute-ms'] === undefined ? undefined : positiveInt('jobs-minute-ms', values['jobs-minute-ms'], 60_000);
    const cameraProfiles = values['camera-profile'] === undefined ? undefined : parseCameraProfiles(values['camera-profile']);
    const level = values['log-level'] ?? 'info';
    if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace'].includes(level)) throw new UsageError(`--log-level must be fatal, error, warn, info, debug or trace, got "${level}"`);

    const { createLogger } = await import('../lib/log.js');
    const { startDevcloud } = await import('../devcloud/devcloud.js');
    const log = createLogger({ name: 'devcloud', level: level as 'info' });
    const stateDir = path.resolve(values['state-dir']);
    // Listen before anything starts: a signal during start-up then stops devcloud once it is up,
    // instead of killing it with its broker left running.
    const stopSignal = waitForStopSignal();
    const started = Date.now();
    const devcloud = await startDevcloud({ stateDir, cameras, claimCameras, ...(broker ? { broker } : {}), serviceAccounts: values['service-accounts'] === true, ...(cameraProfiles ? { cameraProfiles } : {}), ...(jobsMinuteMs !== undefined ? { jobsMinuteMs } : {}), log });
    const { info } = devcloud;
    process.stdout.write(
      [
        `devcloud ready in ${Date.now() - started} ms (state dir ${stateDir})`,
        `  MQTT (${info.mqtt.broker}, mutual TLS)  ${info.mqtt.url}`,
        `  shadow REST API            ${info.dataPlane.url}`,
        `  S3                         ${info.s3.url}/${info.s3.bucket}  -> ${info.s3.dir}`,
        `  release bucket             ${info.s3.url}/${info.s3.releaseBucket}`,
        ...Object.entries(info.cameras).flatMap(([t, c]) => [
          `  camera ${t.padEnd(19)} ${c.url}  (agent config: ${(info.devices[t] ?? info.claimCameras[t])?.agentConfigPath ?? '?'})`,
          `  ${''.padEnd(26)} certificate SHA256 ${c.fingerprint256}; HTTP ${c.httpUrl}`,
        ]),
        `  control                    ${info.control.url}`,
        `  details                    ${path.join(stateDir, 'devcloud.json')}`,
        '',
      ].join('\n'),
    );

    const signal = await stopSignal;
    log.info({ signal }, 'stopping devcloud');
    await devcloud.stop();
    return 0;
  },
};

/** `axis-os-12` or `axis-os-12,axis-os-10`: each name checked, the bad one named with the valid ones. */
function parseCameraProfiles(raw: string): CameraProfileName[] {
  const names = raw.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!isCameraProfileName(name)) throw new UsageError(`--camera-profile: "${name}" is not a profile; use one of ${CAMERA_PROFILE_NAMES.join(', ')} (or a comma list of them)`);
  }
  return names as CameraProfileName[];
}
