import { parseCommandArgs, UsageError, type Command } from './command.js';
import { processIo, type FieldIo } from './field-io.js';

function seconds(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number of seconds, got "${v}"`);
  return n * 1000;
}

export async function setupNtpCli(argv: string[], io: FieldIo): Promise<number> {
  const { values } = parseCommandArgs(argv, { camera: { type: 'string' }, server: { type: 'string', multiple: true }, 'max-skew': { type: 'string' } });
  const maxSkewMs = seconds('max-skew', values['max-skew']);
  const { CameraStore, defaultStorePath } = await import('../field/camera-store.js');
  const { vapixFor } = await import('../field/camera-client.js');
  const { setupNtp, describeClock } = await import('../field/ntp.js');
  const stored = await new CameraStore(defaultStorePath(io.env)).find(values.camera);
  const servers = (values.server ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const r = await setupNtp(vapixFor(stored), servers, maxSkewMs === undefined ? {} : { maxSkewMs });
  if (r.changes.length === 0) io.out.write(`✓ NTP already as wanted (${r.api}): ${r.after.staticServers.join(', ') || r.after.serversSource}; nothing changed\n`);
  else for (const c of r.changes) io.out.write(`✓ changed ${c} (${r.api})\n`);
  const d = describeClock(r.clock, r.clock.maxSkewMs);
  io.out.write(`${d.ok ? '✓' : '✗'} ${d.text} (from ${r.clock.source})\n`);
  if (!d.ok) io.out.write('  fix: the camera has not synced yet or cannot reach the NTP server (UDP 123); give it a minute and run `cloudcam setup check`\n');
  return d.ok ? 0 : 1;
}

export async function setupCheckCli(argv: string[], io: FieldIo): Promise<number> {
  const { values } = parseCommandArgs(argv, { camera: { type: 'string' }, app: { type: 'string' }, version: { type: 'string' }, 'max-skew': { type: 'string' } });
  const maxSkewMs = seconds('max-skew', values['max-skew']);
  const { CameraStore, defaultStorePath } = await import('../field/camera-store.js');
  const { vapixFor } = await import('../field/camera-client.js');
  const { runChecks, formatCheck } = await import('../field/check.js');
  const stored = await new CameraStore(defaultStorePath(io.env)).find(values.camera);
  const lines = await runChecks(vapixFor(stored), {
    ...(values.app ? { appName: values.app } : {}),
    ...(values.version ? { version: values.version } : {}),
    ...(maxSkewMs === undefined ? {} : { maxSkewMs }),
  });
  io.out.write(`${formatCheck(lines)}\n`);
  return lines.every((l) => l.ok === true) ? 0 : 1;
}

export const setupNtpCommand: Command = {
  path: ['setup', 'ntp'],
  summary: 'set the camera NTP servers (only what differs) and check its clock',
  help: `Usage: cloudcam setup ntp [--camera ADDRESS] [--server S]... [--max-skew SECONDS]

Sets the NTP client with the ntp.cgi JSON API (param.cgi Time.NTP.* on firmware without it),
changing only what differs and saying what it changed; then compares the camera clock with this
computer's. Exit 1 when the clock is off by more than --max-skew (default 60 s).

  --server S        NTP server (repeat, or comma-separate); without it the current servers are kept
`,
  run: (argv) => setupNtpCli(argv, processIo()),
};

export const setupCheckCommand: Command = {
  path: ['setup', 'check'],
  summary: 'preflight report of a camera: ✓/✗ per check with the fix',
  help: `Usage: cloudcam setup check [--camera ADDRESS] [--app NAME] [--version V] [--max-skew SECONDS]

Checks: reachable, credentials, clock, NTP, app installed/running/version, certificates valid, agent
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
  });
  if (!values.ca) throw new UsageError('--ca FILE is required (AmazonRootCA1.pem for AWS, the devcloud CA otherwise)');
  if (!values['aws-json'] && (!values.cert || !values.key)) throw new UsageError('give --cert FILE and --key FILE, or --aws-json FILE');
  const { readFile } = await import('node:fs/promises');
  const { bundleFromAwsJson, validateBundle } = await import('../field/certs.js');
  const caPem = await readFile(values.ca, 'utf8');
  const bundle = values['aws-json']
    ? bundleFromAwsJson(await readFile(values['aws-json'], 'utf8'), caPem)
    : { certPem: await readFile(values.cert!, 'utf8'), keyPem: await readFile(values.key!, 'utf8'), caPem };
  const { CameraStore, defaultStorePath } = await import('../field/camera-store.js');
  const { vapixFor } = await import('../field/camera-client.js');
  const { readCameraClock } = await import('../protocol/vapix-time.js');
  const stored = await new CameraStore(defaultStorePath(io.env)).find(values.camera);
  const clock = await readCameraClock(vapixFor(stored));
  const r = validateBundle(bundle, new Date(Date.now() + clock.offsetMs));
  io.out.write(`subject      ${r.subject}\nissuer       ${r.issuer}\nfingerprint  ${r.fingerprint256}\nvalid        ${r.notBefore.toISOString()} .. ${r.notAfter.toISOString()}\nkey          ${r.key}\n`);
  for (const p of r.problems) io.out.write(`✗ ${p}\n`);
  if (r.problems.length > 0) return 1;
  io.out.write('✓ key matches, chain to the CA, valid by the camera clock\n');
  io.out.write('  not installed: installing through the app endpoint is not implemented yet; see docs/field-tools.md\n');
  return 0;
}

export const setupCertsCommand: Command = {
  path: ['setup', 'certs'],
  summary: 'validate a device certificate, key and CA against the camera clock',
  help: `Usage: cloudcam setup certs [--camera ADDRESS] --ca FILE (--cert FILE --key FILE | --aws-json FILE)

Checks that the key matches the certificate, that the CA signed it, that it is valid by the camera's
clock (not this computer's), and that the key is RSA 2048+ or ECDSA P-256/P-384. Prints subject,
fingerprint and expiry. --aws-json takes the output of \`aws iot create-keys-and-certificate\`.
Exit 1 with one ✗ line per problem.
`,
  run: (argv) => setupCertsCli(argv, processIo()),
};
