import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * Keys whose values never reach a log line: private keys, passwords, presigned POST policy and
 * signature fields, session tokens. pino's redaction works on paths, so the presigned form fields
 * are listed under every place they are logged.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'privateKey',
  '*.privateKey',
  'secretAccessKey',
  '*.secretAccessKey',
  'sessionToken',
  '*.sessionToken',
  'authorization',
  '*.authorization',
  'fields',
  '*.fields',
  'policy',
  '*.policy',
  '*["x-amz-signature"]',
  '*["x-amz-security-token"]',
  '*.Policy',
  '*["X-Amz-Signature"]',
];

export interface LogOptions {
  name: string;
  level?: LevelWithSilent;
  /** Extra fields on every line, e.g. { thing }. */
  base?: Record<string, unknown>;
  /** Where lines go; defaults to stderr so stdout stays for command output. */
  destination?: NodeJS.WritableStream | number;
}

export function createLogger(options: LogOptions): Logger {
  const dest = options.destination ?? 2;
  const stream = typeof dest === 'number' ? pino.destination({ dest, sync: true }) : dest;
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      base: { ...(options.base ?? {}) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  );
}
