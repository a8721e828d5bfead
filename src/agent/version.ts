import { createRequire } from 'node:module';

/** The agent's version, from package.json. */
function readVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0-unknown';
  }
}

export const AGENT_VERSION = readVersion();
