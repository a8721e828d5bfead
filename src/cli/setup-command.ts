import { parseCommandArgs, UsageError, type Command } from './command.js';
import { processIo, type FieldIo } from './field-io.js';

function seconds(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number of seconds, got "${v}"`);
  return n * 1000;
}

function port(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--${name} must be a TCP port (1-65535), got "${v}"`);
  return n;
}

export async function setupNtpCli(argv: string[], io: FieldIo): Promise<number> {
  const { values } = parseCommandArgs(argv, { camera: { type: 'string' }, server: { type: 'string', multiple: true }, dhcp: { type: 'boolean' }, 'max-skew': { type: 'string' } });
  const maxSkewMs = seconds('max-skew', values['max-skew']);
  const { openStoredCamera } = await import('../field/camera-client.js');
  const { setupNtp, describeClock, describeNtpServers } = await import('../field/ntp.js');
  const { camera } = await openStoredCamera(io.env, values.camera);
  const servers = (values.server ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const r = await setupNtp(camera, servers, { ...(maxSkewMs === undefined ? {} : { maxSkewMs }), ...(values.dhcp ? { dhcp: true } : {}) });
  if (r.changes.length === 0) io.out.write(`✓ NTP already as wanted (${r.api}): servers ${describeNtpServers(r.after)}; nothing changed\n`);
  else for (const c of r.changes) io.out.write(`✓ changed ${c} (${r.api})\n`);
  if (r.changes.length > 0) io.out.write(`  servers now ${describeNtpServers(r.after)}\n`);
  const d = describeClock(r.clock, r.clock.maxSkewMs);
  io.out.write(`${d.ok ? '✓' : '✗'} ${d.text} (from ${r.clock.source})\n`);
  if (!d.ok) io.out.write('  fix: the camera has not synced yet or cannot reach the NTP server (UDP 123); give it a minute and run `cloudcam setup check`\n');
  return d.ok ? 0 : 1;
}

export async function setupCheckCli(argv: string[], io: FieldIo): Promise<number> {
  const { values } = parseCommandArgs(argv, { camera: { type: 'string' }, app: { type: 'string' }, version: { type: 'string' }, 'max-skew': { type: 'string' }, 'rtsp-port': { type: 'string' } });
  const maxSkewMs = seconds('max-skew', values['max-skew']);
  const rtspPort = port('rtsp-port', values['rtsp-port']);
  const { openStoredCamera, trustOf } = await import('../field/camera-client.js');
  const { runChecks, formatCheck } = await import('../field/check.js');
  const { stored, camera } = await openStoredCamera(io.env, values.camera);
  const lines = await runChecks(camera, {
    trust: trustOf(stored),
    ...(values.app ? { appName: values.app } : {}),
    ...(values.version ? { version: values.version } : {}),
    ...(maxSkewMs === undefined ? {} : { maxSkewMs }),
    ...(rtspPort === undefined ? {} : { rtspPort }),
  });
  io.out.write(`${formatCheck(lines)}\n`);
  return lines.every((l) => l.ok === true) ? 0 : 1;
}

export const setupNtpCommand: Command = {
  path: ['setup', 'ntp'],
  summary: 'set the camera NTP servers (only what differs) and check its clock',
  help: `Usage: cloudcam setup ntp [--camera ADDRESS] [--server S]... | [--dhcp] [--max-skew SECONDS]

Sets the NTP client with the ntp.cgi JSON API (param.cgi Time.NTP.* on firmware without it),
changing only what differs and saying what it changed; then compares the camera clock with this
computer's. Exit 1 when the clock is off by more than --max-skew (default 60 s).

  --server S        NTP server (repeat, or comma-separate); without it the current servers are kept
  --dhcp            use the NTP server DHCP hands out (Time.NTP.VolatileServer); refused when DHCP
                    gave none. A camera showing 0.0.0.0 as its server has none.
`,
  run: (argv) => setupNtpCli(argv, processIo()),
};

export const setupCheckCommand: Command = {
  path: ['setup', 'check'],
  summary: 'preflight report of a camera: ✓/✗ per check with the fix',
  help: `Usage: cloudcam setup check [--camera ADDRESS] [--app NAME] [--version V] [--max-skew SECONDS] [--rtsp-port PORT]

Checks: camera certificate (pinned with its fingerprint, CA-verified, or insecure HTTP), reachable, credentials, clock, NTP, app installed/running/version, live view's
RTSP account (set, and accepted by one DESCRIBE on --rtsp-port, default 554), certificates valid, agent
connected (the last two from the agent's status endpoint, /local/NAME/api/status, admin only).
Exit 0 only when every check passes.
`,
  run: (argv) => setupCheckCli(argv, processIo()),
};

export async function setupCertsCli(argv: string[], io: FieldIo): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    camera: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    ca: { type: 'string' },
    'aws-json': { type: 'string' },
    app: { type: 'string' },
    'dry-run': { type: 'boolean' },
    wait: { type: 'string' },
  });
  if (!values.ca) throw new UsageError('--ca FILE is required (AmazonRootCA1.pem for AWS, the devcloud CA otherwise)');
  if (!values['aws-json'] && (!values.cert || !values.key)) throw new UsageError('give --cert FILE and --key FILE, or --aws-json FILE');
  const waitMs = seconds('wait', values.wait) ?? 30_000;
  const appName = values.app ?? 'cloudcam';
  const { readFile } = await import('node:fs/promises');
  const read = async (option: string, file: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --${option} ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const { bundleFromAwsJson, validateBundle, CertificateInputError } = await import('../lib/certificate-check.js');
  const caPem = await read('ca', values.ca);
  let bundle;
  let r;
  const { openStoredCamera } = await import('../field/camera-client.js');
  const { readCameraClock } = await import('../protocol/vapix/time.js');
  // Before any connection: the private key must never cross the camera's network in clear.
  const { camera } = await openStoredCamera(io.env, values.camera, { sends: 'a private key' });
  try {
    bundle = values['aws-json'] ? bundleFromAwsJson(await read('aws-json', values['aws-json']), caPem) : { certPem: await read('cert', values.cert!), keyPem: await read('key', values.key!), caPem };
    const clock = await readCameraClock(camera);
    r = validateBundle(bundle, new Date(Date.now() + clock.offsetMs));
  } catch (err) {
    if (!(err instanceof CertificateInputError)) throw err;
    io.out.write(`✗ ${err.message}\n`);
    return 1;
  }
  io.out.write(`subject      ${r.subject}\nissuer       ${r.issuer}\nfingerprint  ${r.fingerprint256}\nvalid        ${r.notBefore.toISOString()} .. ${r.notAfter.toISOString()}\nkey          ${r.key}\n`);
  for (const p of r.problems) io.out.write(`✗ ${p}\n`);
  if (r.problems.length > 0) return 1;
  io.out.write('✓ key matches, chain to the CA, valid by the camera clock\n');
  if (values['dry-run']) {
    io.out.write('  dry run: nothing was sent to the camera\n');
    return 0;
  }
  const { postCertificates, proveAgent, waitForAgentIdentity } = await import('../field/cert-install.js');
  // Proof of possession first: nothing is sent unless the agent itself answers.
  const proof = await proveAgent(camera, appName, caPem);
  if (proof.kind === 'failed') {
    io.out.write(`✗ not installed: ${proof.message}\n  fix: ${proof.fix}\n`);
    return 1;
  }
  io.out.write(`✓ the agent of ${proof.thingName} proved it holds its current device key\n`);
  const outcome = await postCertificates(camera, appName, bundle);
  if (outcome.kind === 'refused') {
    for (const p of outcome.problems) io.out.write(`✗ the agent refused it: ${p}\n`);
    io.out.write('  nothing was installed; the agent keeps its current certificate\n');
    return 1;
  }
  if (outcome.kind === 'failed') {
    io.out.write(`✗ not installed: ${outcome.message}\n  fix: ${outcome.fix}\n`);
    return 1;
  }
  const i = outcome.installed;
  io.out.write(`✓ installed for ${i.thingName} (certificate id ${i.certificateId}), expires ${i.notAfter}; the agent is reconnecting\n`);
  const seen = await waitForAgentIdentity(camera, appName, i.fingerprint256, waitMs);
  if (seen.ok) {
    io.out.write(`✓ agent connected as ${i.thingName} with the new certificate\n`);
    return 0;
  }
  const rolledBack = seen.status?.identity?.state === 'rolled-back' && seen.status.identity.certificateId === i.certificateId;
  const why = seen.error ?? (rolledBack ? `rolled back to the previous certificate: ${seen.status?.identity.reason ?? ''}` : seen.status?.connected ? 'connected, but still with another certificate' : `not connected${seen.status?.lastDisconnectReason ? `: ${seen.status.lastDisconnectReason}` : ''}`);
  io.out.write(`✗ agent not connected with the new certificate after ${waitMs / 1000} s (${why})\n`);
  io.out.write('  fix: check that the certificate is registered and active in AWS IoT, attached to the thing and to a policy that allows iot:Connect as the thing name; then `cloudcam setup check`\n');
  return 1;
}

export const setupCertsCommand: Command = {
  path: ['setup', 'certs'],
  summary: 'check a device certificate, key and CA against the camera clock and install them into the agent',
  help: `Usage: cloudcam setup certs [--camera ADDRESS] --ca FILE (--cert FILE --key FILE | --aws-json FILE)
                          [--app NAME] [--dry-run] [--wait SECONDS]

Checks that the key matches the certificate, that the CA signed it, that it is valid by the camera's
clock (not this computer's), and that the key is RSA 2048+ or ECDSA P-256/P-384, printing subject,
fingerprint and expiry. Then installs them into the running agent through the camera's admin-only
/local/NAME/api/certs (the stored account must be an administrator), which stores them 0600 and
reconnects; waits until the agent is connected with the new certificate. Before sending anything it
makes the agent sign a fresh nonce with its current device key (/local/NAME/api/challenge) and checks
that signature and that a CA in --ca issued the agent's current certificate: anything else holding
the agent's port gets nothing. An installed certificate that does not connect within the agent's
localApi.identityTrialMs (2 min) is rolled back to the previous one. Refused, before anything is
sent, for a camera added with --insecure-http: the private key never crosses the network in clear.
--aws-json takes the output of \`aws iot create-keys-and-certificate\`. --ca may hold several PEM
certificates: the issuer of the new device certificate and of the current one. The agent never takes
a CA from this command: it trusts the broker through its configured iot.caPath only.

  --dry-run       validate only; send nothing to the camera
  --wait SECONDS  how long to wait for the agent to connect with it (default 30)
  --app NAME      the app's name on the camera (default cloudcam)

Exit 1 with one ✗ line per problem and what to do.
`,
  run: (argv) => setupCertsCli(argv, processIo()),
};

export async function setupLiveCli(argv: string[], io: FieldIo): Promise<number> {
  const { values } = parseCommandArgs(argv, { camera: { type: 'string' }, app: { type: 'string' }, 'rtsp-port': { type: 'string' } });
  const rtspPort = port('rtsp-port', values['rtsp-port']);
  const appName = values.app ?? 'cloudcam';
  const { openStoredCamera } = await import('../field/camera-client.js');
  const { setupLiveAccount, LiveAccountError } = await import('../field/live-account.js');
  const { liveAccountLine } = await import('../field/live-check.js');
  // Before any connection: the new password must not cross the camera's network in clear.
  const { camera } = await openStoredCamera(io.env, values.camera, { sends: 'a camera account password' });
  try {
    const r = await setupLiveAccount(camera, appName);
    io.out.write(`✓ ${r.action === 'created' ? 'created' : 'new password for'} viewer account ${r.username}; stored in the app parameters ${appName}.LiveRtspUsername/LiveRtspPassword\n`);
  } catch (err) {
    if (!(err instanceof LiveAccountError)) throw err;
    io.out.write(`✗ ${err.message}\n  fix: ${err.fix}\n`);
    return 1;
  }
  const line = await liveAccountLine(camera, appName, rtspPort);
  if (line) io.out.write(`${line.ok ? '✓' : '✗'} ${line.detail}\n${line.fix && !line.ok ? `  fix: ${line.fix}\n` : ''}`);
  // The agent reads its parameters at start: restart it so live view uses the account now.
  const { listApps, controlApp } = await import('../protocol/vapix/applications.js');
  const app = (await listApps(camera)).find((a) => a.name === appName);
  if (app?.status === 'Running') {
    await controlApp(camera, 'restart', appName);
    io.out.write(`✓ restarted ${appName} so that the agent reads the account\n`);
  } else io.out.write(`  ${appName} is not running: the agent reads the account when it starts\n`);
  return line?.ok === false ? 1 : 0;
}

export const setupLiveCommand: Command = {
  path: ['setup', 'live'],
  summary: "give live view a viewer-only camera account for RTSP (an ACAP service account cannot open RTSP); again: new password",
  help: `Usage: cloudcam setup live [--camera ADDRESS] [--app NAME] [--rtsp-port PORT]

On AXIS OS the app's service account opens VAPIX but not the camera's RTSP server (Axis:
AxisCommunications/acap-documentation#113), so live view needs a camera account. This creates one,
${'`'}cloudcamlive${'`'}, in the viewer group only (it can watch the camera, nothing else), with a random
32-character password, through VAPIX pwdgrp.cgi with the stored administrator account, and stores user
and password in the app's parameters LiveRtspUsername/LiveRtspPassword (live.rtspUsername and
live.rtspPassword for the agent). Run again, it gives the account a new password (the account first,
then the parameters) and brings it back to the viewer group. Then checks the account with one RTSP
DESCRIBE, and restarts the app when it runs (the agent reads its parameters at start). Refused for a camera added with --insecure-http: the password never crosses the network in
clear. Nobody types or sees the password.

  --app NAME        the app's name on the camera (default cloudcam)
  --rtsp-port PORT  the camera's RTSP port for the check (default 554)
`,
  run: (argv) => setupLiveCli(argv, processIo()),
};
