/**
 * The packaged agent's entry point: the executable in the .eap and in the gateway tarball. It runs
 * the agent only (no CLI dispatcher, no devcloud), so the bundle carries mqtt.js, pino,
 * convict and node-cron and nothing of the AWS SDK. Settings come from the package layout
 * (packaged-app.ts); `--version` prints the agent and runtime versions.
 */
import path from 'node:path';
import { appLayout, loadPackagedConfig } from './packaged-app.js';
import { createAgentLogger } from './logging.js';
import { runAgentUntilSignal } from './main.js';
import { AGENT_VERSION } from './version.js';
import { tuneRuntimeForDevice } from './runtime-tuning.js';
import { packagedRuntimeNotes, pastEndOfLife, runningRuntime, runtimeNotesText } from './runtime-info.js';

async function main(argv: string[]): Promise<number> {
  // Before the settings are read: validating them (convict's deep copies) is hot enough for V8 to
  // optimise a function, and one TurboFan run keeps its ~3.5 MB of code pages and scratch memory
  // resident for the life of the process (docs/benchmarks.md).
  tuneRuntimeForDevice();
  const running = runningRuntime();
  if (argv.includes('--version')) {
    const appDir = process.env['CLOUDCAM_APP_DIR'] ?? path.dirname(process.execPath);
    process.stdout.write(`cloudcam agent ${AGENT_VERSION} (node ${running.node} ${running.arch}; ${running.origin} build)\n${runtimeNotesText(packagedRuntimeNotes(appDir))}`);
    return 0;
  }
  const layout = appLayout();
  const { config, notes } = await loadPackagedConfig(layout);
  const log = createAgentLogger({ level: config.log.level, format: config.log.format, thing: config.thingName });
  const runtime = packagedRuntimeNotes(layout.appDir);
  log.info(
    { event: 'agent.runtime', node: running.node, arch: running.arch, origin: running.origin, source: runtime?.source, nodeOptions: process.env['NODE_OPTIONS'] ?? '', uvThreadpoolSize: process.env['UV_THREADPOOL_SIZE'], mallocArenaMax: process.env['MALLOC_ARENA_MAX'], endOfLife: runtime?.endOfLife, appDir: layout.appDir },
    `cloudcam agent ${AGENT_VERSION} on node ${running.node} ${running.arch} (${running.origin} build)`,
  );
  if (pastEndOfLife(runtime)) log.warn({ event: 'agent.runtime' }, runtimeNotesText(runtime).trim());
  for (const note of notes) log.info({ event: 'config.source' }, note);
  return runAgentUntilSignal(config, log);
}

main(process.argv.slice(1)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Config errors already say what is wrong and what to do; `<3>` keeps the severity in the system log.
    process.stderr.write(`<3>cloudcam: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
