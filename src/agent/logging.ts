import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { REDACT_PATHS } from '../lib/log.js';
import type { LogFormat, LogLevel } from './config.js';

/**
 * The agent's logger: one JSON event per line from pino, re-formatted for its destination.
 * - syslog-stdout: `<N>` + the JSON event. On an Axis camera stdout goes to the system log through
 *   systemd, which takes a leading `<N>` as the line's severity (sd-daemon(3)).
 * - json: the plain pino line.
 * - pretty: a short human line for `make run` and terminals.
 * Writes are synchronous and small; they never wait on a network peer.
 */
const SYSLOG_SEVERITY: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };
const LEVEL_NAME: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN_IN_PRETTY = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'thing']);

export function syslogSeverity(pinoLevel: number): number {
  return SYSLOG_SEVERITY[pinoLevel] ?? 6;
}

export function formatLine(line: string, format: LogFormat): string {
  if (format === 'json') return line;
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = typeof event['level'] === 'number' ? event['level'] : 30;
  if (format === 'syslog-stdout') return `<${syslogSeverity(level)}>${line}`;
  const time = typeof event['time'] === 'string' ? event['time'].slice(11, 23) : '';
  const extras = Object.entries(event)
    .filter(([k]) => !HIDDEN_IN_PRETTY.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${time} ${(LEVEL_NAME[level] ?? 'INFO').padEnd(5)} ${typeof event['thing'] === 'string' ? event['thing'] : ''} ${typeof event['msg'] === 'string' ? event['msg'] : ''}${extras ? `  ${extras}` : ''}\n`;
}

export function createAgentLogger(opts: { level: LogLevel; format: LogFormat; thing: string; out?: NodeJS.WritableStream }): Logger {
  const out = opts.out ?? process.stdout;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.write(formatLine(chunk.toString('utf8'), opts.format));
      done();
    },
  });
  return pino(
    {
      level: opts.level,
      base: { thing: opts.thing },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    sink,
  );
}
