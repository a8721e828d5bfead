import { parseCommandArgs, type Command } from './command.js';

export const agentCommand: Command = {
  path: ['agent'],
  summary: 'run the camera agent daemon (MQTT presence, shadow-driven snapshots)',
  help: `Usage: cloudcam agent [--config FILE]

Runs the camera agent: connects to AWS IoT (or devcloud) over mutual-TLS MQTT, publishes presence,
serves snapshot requests from its device shadow (capture over VAPIX, upload with the presigned POST,
report back), and asks for snapshots on its schedule. Stops cleanly on SIGTERM or SIGINT.

Settings come from FILE (JSON) and CLOUDCAM_* environment variables; docs/config.md lists every key.
With devcloud, use the ready config it writes: DIR/agents/camera-1.json.

Options:
  --config FILE   the agent's JSON config file
`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, { config: { type: 'string' } });
    const { runAgent } = await import('../agent/main.js');
    return runAgent(values.config);
  },
};
