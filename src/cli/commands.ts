import type { Command } from './command.js';
import { agentCommand } from './agent-command.js';
import { devcloudCommand } from './devcloud-command.js';
import { snapshotLatestCommand, snapshotRequestCommand } from './snapshot-command.js';

/** Every `cloudcam` subcommand; each lives in its own module and imports its heavy parts lazily. */
export const commands: Command[] = [agentCommand, devcloudCommand, snapshotRequestCommand, snapshotLatestCommand];
