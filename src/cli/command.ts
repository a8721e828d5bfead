import { parseArgs, type ParseArgsConfig } from 'node:util';

/** One `cloudcam` subcommand. `run` returns the process exit code. */
export interface Command {
  /** Words after `cloudcam`, e.g. `['snapshot', 'request']`. */
  readonly path: readonly string[];
  readonly summary: string;
  /** Full help text: usage line, options, examples. */
  readonly help: string;
  run(argv: string[]): Promise<number>;
}

/** A usage error: printed with the command's help hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs that turns node's terse errors into a UsageError naming the option. */
export function parseCommandArgs<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** Parses a whole positive number option, naming the option when it is not one. */
export function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number of 1 or more, got "${value}"`);
  return n;
}
