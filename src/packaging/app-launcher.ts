/**
 * The ACAP app's `setup.appName`: a POSIX sh launcher. The manifest has no environment field, so this
 * is where the runtime settings (src/agent/runtime-settings.ts) are set before the runtime starts.
 *
 * Two runtimes (docs/packaging.md):
 * - `sea`: an official Node single executable beside it (`cloudcam-agent`);
 * - `debian`: Debian's `node` (5 KB) with libnode and its libraries in `lib/` and libnode's
 *   externalised JavaScript builtins in `builtins/`, whose paths inside libnode were rewritten to
 *   paths relative to the package directory (libnode-paths.ts): so the launcher starts it there.
 */
import { RUNTIME_DEFAULTS, runtimeSettingsShell, RUNTIME_FILE, type RuntimeSettings } from '../agent/runtime-settings.js';

export type RuntimeKind = 'sea' | 'debian';

/** The single executable's name beside the launcher (the launcher takes the app's name). */
export const SEA_EXECUTABLE = 'cloudcam-agent';
/** The agent bundle beside Debian's `node`. */
export const DEBIAN_BUNDLE = 'agent.js';

/**
 * `runner`: a command the runtime is run through, e.g. `qemu-arm -L SYSROOT` when `make test-package`
 * runs a foreign-architecture package on the build host; the shipped launcher has none.
 */
export function appLauncherScript(appName: string, runtime: RuntimeKind, runner = '', defaults: RuntimeSettings = RUNTIME_DEFAULTS): string {
  const run = runner ? `${runner} ` : '';
  const start =
    runtime === 'sea'
      ? `exec ${run}"$here/${SEA_EXECUTABLE}" "$@"`
      : `# libnode and the libraries AXIS OS lacks (or has older) are in lib/; libnode finds its builtins
# under builtins/ relative to the working directory, which is therefore the package directory.
# --use-bundled-ca: Debian builds node to trust the system's CA store (/usr/lib/ssl), which a camera
# does not have; Node's own root certificates are what the official builds use.
export LD_LIBRARY_PATH="$here/lib"
exec ${run}"$here/node" --use-bundled-ca "$here/${DEBIAN_BUNDLE}" "$@"`;
  return `#!/bin/sh
# ${appName} (docs/packaging.md): sets the runtime's memory settings, then starts the agent.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here" || exit 1
${runtimeSettingsShell(`"$here/localdata/${RUNTIME_FILE}"`, appName, defaults)}export CLOUDCAM_APP_DIR="$here"
${start}
`;
}
