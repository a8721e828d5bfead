import { parseCommandArgs, UsageError, type Command } from './command.js';
import { processIo, progressBar, type FieldIo } from './field-io.js';

export async function install(argv: string[], io: FieldIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { camera: { type: 'string' }, arch: { type: 'string' }, dir: { type: 'string' }, force: { type: 'boolean' } },
    true,
  );
  if (values.arch !== undefined && values.arch !== 'auto') throw new UsageError(`--arch takes only "auto" (the camera says its architecture), got "${values.arch}"`);
  for (const p of positionals) if (!p.endsWith('.eap')) throw new UsageError(`"${p}" is not an .eap package file`);
  const { openStoredCamera } = await import('../field/camera-client.js');
  const { readPackages, installPackage } = await import('../field/install.js');
  // Before any connection: over HTTP anyone on the camera's network could swap the package.
  const { stored, camera } = await openStoredCamera(io.env, values.camera, { sends: 'an app package' });
  const { packages, problems } = await readPackages(positionals, values.dir);
  const bar = progressBar(io, 'upload');
  try {
    const result = await installPackage(camera, packages, {
      force: values.force === true,
      problems,
      onProgress: (s, t) => bar.update(s, t),
      say: (line) => io.out.write(`${line}\n`),
    });
    bar.done();
    const what = { unchanged: 'already running', started: 'started', installed: 'installed and running' }[result.action];
    io.out.write(`✓ ${result.app.name} ${result.app.version} ${what} on ${stored.url}\n`);
    return 0;
  } catch (err) {
    bar.done();
    throw err;
  }
}

export const installCommand: Command = {
  path: ['install'],
  summary: 'install the cloudcam app on a camera over VAPIX (picks the .eap for its architecture)',
  help: `Usage: cloudcam install [--camera ADDRESS] [FILE.eap ... | --arch auto] [--dir DIR] [--force]

Asks the camera for its architecture (basicdeviceinfo.cgi), picks the matching package (from the
given files, or every .eap in --dir, default the current directory), uploads it (upload.cgi, with a
progress bar on a terminal), starts it (control.cgi) and confirms it runs (list.cgi). The same version
already running is left alone unless --force. Axis "Error: N" replies are explained with their fix.
Only over HTTPS (pinned or CA-verified): a camera added with --insecure-http is refused before any
byte of the package is sent.

  --camera ADDRESS   a camera stored with \`cloudcam camera add\` (optional when only one is stored)
  --arch auto        pick by the camera's architecture (the default)
  --dir DIR          where to look for .eap files when none is given
  --force            upload even when the same version is installed
`,
  run: (argv) => install(argv, processIo()),
};
