import type { Command } from './command.js';
import { agentCommand } from './agent-command.js';
import { devcloudCommand } from './devcloud-command.js';
import { allowReenrolCommand } from './fleet-command.js';
import { fleetUpdateCommand } from './fleet-update-command.js';
import { snapshotLatestCommand, snapshotRequestCommand } from './snapshot-command.js';
import { cameraAddCommand, cameraListCommand, cameraRemoveCommand } from './camera-command.js';
import { installCommand } from './install-command.js';
import { jobsCancelCommand, jobsCreateCommand, jobsDescribeCommand } from './jobs-command.js';
import { setupCertsCommand, setupCheckCommand, setupLiveCommand, setupNtpCommand } from './setup-command.js';

/** Every `cloudcam` subcommand; each lives in its own module and imports its heavy parts lazily. */
export const commands: Command[] = [
  agentCommand,
  devcloudCommand,
  snapshotRequestCommand,
  snapshotLatestCommand,
  cameraAddCommand,
  cameraListCommand,
  cameraRemoveCommand,
  allowReenrolCommand,
  fleetUpdateCommand,
  jobsCreateCommand,
  jobsDescribeCommand,
  jobsCancelCommand,
  installCommand,
  setupNtpCommand,
  setupCheckCommand,
  setupCertsCommand,
  setupLiveCommand,
];
