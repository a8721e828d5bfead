#!/usr/bin/env node
// The AWS SDK warns on every Node 20 start that its 2027 releases need Node 22. The CLI pins its SDK
// versions and the camera agent never loads the SDK; the warning would only bury real output.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

import { AGENT_VERSION } from './agent/version.js';
import { commands } from './cli/commands.js';
import { UsageError, type Command } from './cli/command.js';

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  const lines = commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  return [
    'cloudcam: the camera IoT agent, its cloud side, field tools and a local devcloud',
    '',
    'Usage: cloudcam <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `cloudcam <command> --help` for the options of one command; `cloudcam --version` (-v) prints the version.',
  ].join('\n');
}

/** Finds the command whose path is the longest prefix of argv. */
function resolve(argv: string[]): { command: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.every((word, i) => argv[i] === word) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best ? { command: best, rest: argv.slice(best.path.length) } : undefined;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(topHelp() + '\n');
    return argv.length === 0 ? 2 : 0;
  }
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    process.stdout.write(`cloudcam ${AGENT_VERSION}\n`);
    return 0;
  }
  const found = resolve(argv);
  if (!found) {
    const group = commands.filter((c) => c.path[0] === argv[0]);
    if (group.length > 0) {
      process.stderr.write(`cloudcam ${argv.join(' ')}: unknown subcommand. Choose one of:\n`);
      for (const c of group) process.stderr.write(`  cloudcam ${c.path.join(' ')}  ${c.summary}\n`);
    } else {
      process.stderr.write(`cloudcam: unknown command "${argv[0]}". Run \`cloudcam --help\` for the list.\n`);
    }
    return 2;
  }
  const { command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help.trimEnd() + '\n');
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`cloudcam ${command.path.join(' ')}: ${err.message}\nRun \`cloudcam ${command.path.join(' ')} --help\` for usage.\n`);
      return 2;
    }
    process.stderr.write(`cloudcam ${command.path.join(' ')}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`cloudcam: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
