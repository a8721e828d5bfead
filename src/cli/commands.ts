import type { Command } from './command.js';

/** Every `cloudcam` subcommand; each lives in its own module. */
export const commands: Command[] = [];
