/** `make package`: node dist/packaging/cli.js (settings from the environment; see build.ts). */
import { buildPackages } from './build.js';

buildPackages().then(
  () => {
    process.exitCode = 0;
  },
  (err: unknown) => {
    process.stderr.write(`package: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
