import { createRequire } from 'node:module';

/** Set by the package build (esbuild `define`): the bundle has no package.json beside it. */
declare const __CLOUDCAM_VERSION__: string | undefined;

/** The agent's version, from package.json. */
function readVersion(): string {
  if (typeof __CLOUDCAM_VERSION__ === 'string') return __CLOUDCAM_VERSION__;
  try {
    const require = createRequire(import.meta.url);
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0-unknown';
  }
}

export const AGENT_VERSION = readVersion();
