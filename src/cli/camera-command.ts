import { parseCommandArgs, UsageError, type Command } from './command.js';
import { processIo, type FieldIo } from './field-io.js';

export async function cameraAdd(argv: string[], io: FieldIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      user: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      fingerprint: { type: 'string' },
      ca: { type: 'string' },
      'insecure-http': { type: 'boolean' },
      repin: { type: 'boolean' },
    },
    true,
  );
  const address = positionals[0];
  if (!address || positionals.length > 1) throw new UsageError('give exactly one camera ADDRESS (never a password: it is asked for)');
  const insecureHttp = values['insecure-http'] === true;
  if (insecureHttp && (values.fingerprint !== undefined || values.ca !== undefined)) throw new UsageError('--insecure-http checks no certificate: leave out --fingerprint and --ca');
  if (values.fingerprint !== undefined && values.ca !== undefined) throw new UsageError('give --fingerprint (pin this certificate) or --ca (trust its issuer), not both');
  const { CameraStore, cameraUrl, defaultStorePath } = await import('../field/camera-store.js');
  const { askLine, askSecret, readStdinSecret } = await import('./prompt.js');
  const url = cameraUrl(address, { insecureHttp });
  const store = new CameraStore(defaultStorePath(io.env));
  const promptIo = { input: io.input, output: io.err };
  const { establishTrust } = await import('../field/camera-trust.js');
  const trust = await establishTrust({
    address,
    url,
    existing: (await store.get(url))?.trust,
    repin: values.repin === true,
    ...(values.fingerprint !== undefined ? { fingerprint: values.fingerprint } : {}),
    ...(values.ca !== undefined ? { caFile: values.ca } : {}),
    insecureHttp,
    say: (line) => io.out.write(`${line}\n`),
    confirm: io.input.isTTY ? async (question) => /^y(es)?$/i.test((await askLine(question, promptIo)).trim()) : undefined,
  });
  let username = values.user;
  let password: string;
  if (values['password-stdin']) {
    if (!username) throw new UsageError('--password-stdin needs --user USER (stdin carries only the password)');
    password = await readStdinSecret(io.input);
  } else {
    if (!io.input.isTTY) throw new UsageError('no terminal to ask for the password: pipe it in with --user USER --password-stdin');
    username ??= (await askLine(`user for ${url}: `, promptIo)).trim();
    password = await askSecret(`password for ${username}@${url}: `, promptIo);
  }
  if (!username) throw new UsageError('the user name is empty');
  const { vapixFor } = await import('../field/camera-client.js');
  // Through the pinned (or CA-verifying) connection: the certificate is checked again in this handshake.
  const info = await vapixFor({ address, url, username, password, trust }).basicDeviceInfo();
  await store.put({
    address,
    url,
    trust,
    username,
    password,
    ...(info['SerialNumber'] ? { serialNumber: info['SerialNumber'] } : {}),
    ...(info['ProdShortName'] ? { model: info['ProdShortName'] } : {}),
    ...(info['Architecture'] ? { architecture: info['Architecture'] } : {}),
    addedAt: new Date().toISOString(),
  });
  const how = { pinned: 'certificate pinned', ca: 'certificate verified by CA', 'insecure-http': 'PLAIN HTTP (nothing verified)' }[trust.kind];
  io.out.write(`✓ ${url}: ${info['ProdShortName'] ?? 'Axis device'} ${info['SerialNumber'] ?? ''} (${info['Architecture'] ?? '?'}), ${how}, credentials verified and stored in ${store.file}\n`);
  return 0;
}

export async function cameraList(argv: string[], io: FieldIo): Promise<number> {
  parseCommandArgs(argv, {});
  const { CameraStore, defaultStorePath } = await import('../field/camera-store.js');
  const cameras = await new CameraStore(defaultStorePath(io.env)).list();
  if (cameras.length === 0) {
    io.out.write('no cameras stored; add one with `cloudcam camera add ADDRESS`\n');
    return 0;
  }
  const trust = (c: (typeof cameras)[number]): string =>
    c.trust?.kind === 'pinned' ? `pinned SHA256 ${c.trust.fingerprint256}` : c.trust?.kind === 'ca' ? `CA ${c.trust.caFile}` : c.trust ? 'INSECURE HTTP' : 'no pin (add it again)';
  for (const c of cameras) io.out.write(`${c.url}  ${c.username}  ${c.model ?? ''} ${c.serialNumber ?? ''} ${c.architecture ?? ''}  ${trust(c)}\n`);
  return 0;
}

export async function cameraRemove(argv: string[], io: FieldIo): Promise<number> {
  const { positionals } = parseCommandArgs(argv, {}, true);
  const address = positionals[0];
  if (!address || positionals.length > 1) throw new UsageError('give exactly one camera ADDRESS');
  const { CameraStore, defaultStorePath } = await import('../field/camera-store.js');
  const removed = await new CameraStore(defaultStorePath(io.env)).remove(address);
  io.out.write(removed ? `removed ${address}\n` : `${address} was not stored\n`);
  return removed ? 0 : 1;
}

const STORE_NOTE = 'Credentials live in $XDG_CONFIG_HOME/cloudcam/cameras.json (default ~/.config/cloudcam/cameras.json), mode 0600.';

export const cameraAddCommand: Command = {
  path: ['camera', 'add'],
  summary: 'pin a camera certificate and store its user and password for the field commands',
  help: `Usage: cloudcam camera add ADDRESS [--user USER] [--password-stdin]
                         [--fingerprint SHA256 | --ca FILE | --insecure-http] [--repin]

Connects over HTTPS (an ADDRESS without scheme means https://), shows the camera certificate's
SHA-256 fingerprint, subject and validity and asks you to confirm it is the camera's (compare it with
the fingerprint the camera's web interface shows); the certificate is then pinned: every later
command refuses a camera that presents another one. Then asks for the camera user and password (the
password without echo), checks them over the pinned connection (basicdeviceinfo.cgi) and stores
them for install and setup. Passwords are never taken from the command line, which other users can
read with ps.

  --user USER           the user (else asked for)
  --password-stdin      read the password from stdin, for scripts: printf %s "$PW" | cloudcam camera add 192.168.0.90 --user root --password-stdin --fingerprint SHA256
  --fingerprint SHA256  pin without asking when the certificate has this SHA-256 fingerprint (hex, colons optional); refuse otherwise
  --ca FILE             the camera has a certificate from this CA: verify it (host name included) instead of pinning
  --insecure-http       plain HTTP, nothing verified (a camera without HTTPS); setup certs and install refuse such a camera
  --repin               replace the pinned certificate of a camera already stored (after a reset or a new certificate)

${STORE_NOTE}
`,
  run: (argv) => cameraAdd(argv, processIo()),
};

export const cameraListCommand: Command = {
  path: ['camera', 'list'],
  summary: 'list the stored cameras',
  help: `Usage: cloudcam camera list\n\n${STORE_NOTE}\n`,
  run: (argv) => cameraList(argv, processIo()),
};

export const cameraRemoveCommand: Command = {
  path: ['camera', 'remove'],
  summary: 'forget a stored camera',
  help: `Usage: cloudcam camera remove ADDRESS\n\n${STORE_NOTE}\n`,
  run: (argv) => cameraRemove(argv, processIo()),
};
