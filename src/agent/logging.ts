import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { REDACT_PATHS } from '../lib/log.js';
import type { LogFormat, LogLevel } from './config/index.js';
import { createSyslogSender, type Facility, type SyslogSender, type SyslogStats, type SyslogTarget } from './syslog.js';

/**
 * The agent's logger: one JSON event per line from pino, re-formatted for its destinations.
 * - syslog-stdout: `<N>` + the JSON event. On an Axis camera stdout goes to the system log through
 *   systemd, which takes a leading `<N>` as the line's severity (sd-daemon(3)).
 * - json: the plain pino line.
 * - pretty: a short human line for `make run` and terminals.
 * - and, when configured, RFC 5424 to a syslog collector over UDP or TCP (syslog.ts).
 * Every line carries `thing` and a short `event` name (added when the call site gave none), and
 * the request `id` where there is one. Writes are synchronous and small; the collector is fed
 * without waiting (dropped, counted, when it is down).
 *
 * Secrets: pino's redaction removes known keys (REDACT_PATHS); then every finished line is scrubbed
 * of secret values wherever they appear (in messages, error texts, URLs): the values the agent was
 * given (camera password) and the shapes of the others (PEM private keys, SigV4 signatures, base64
 * POST policies and session tokens).
 */
const SYSLOG_SEVERITY: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };
const LEVEL_NAME: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN_IN_PRETTY = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'thing']);
const REDACTED = '[redacted]';

/** Shapes of secrets that need no registration. */
const SECRET_PATTERNS: RegExp[] = [
  // A PEM private key, whole or cut off (RSA, EC, PKCS#8, encrypted); also with JSON-escaped newlines.
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  // A SigV4 signature: 64 hex digits. Except the value of a `certificateId` field: AWS IoT's
  // certificate id is also 64 hex digits (the SHA-256 of the public certificate), and docs/logging.md
  // promises it in provisioning.done and certs.installed so ops can find the certificate in AWS.
  /(?<![0-9a-fA-F])(?<!"certificateId":")[0-9a-fA-F]{64}(?![0-9a-fA-F])/g,
  // SigV4 credentials as URL query parameters (a presigned URL), whatever their encoding.
  /(?<=X-Amz-(?:Signature|Security-Token)=)[^&"\s\\]+/gi,
  // Long base64 runs, also percent-encoded: a POST policy (base64 JSON) or an STS session token.
  // Nothing else the agent logs is one.
  /(?:[A-Za-z0-9+/]|%2[BF]|%3D){80,}(?:=|%3D){0,2}/gi,
];

export function syslogSeverity(pinoLevel: number): number {
  return SYSLOG_SEVERITY[pinoLevel] ?? 6;
}

/** Removes secret values from a finished line: the registered ones, then the known shapes. */
export function scrubSecrets(line: string, secrets: readonly string[] = []): string {
  let out = line;
  for (const s of secrets) {
    if (s.length < 4) continue; // a 1-3 character "secret" would shred every line, and protects nothing
    out = out.split(s).join(REDACTED);
    const escaped = JSON.stringify(s).slice(1, -1); // as it appears inside a JSON string
    if (escaped !== s) out = out.split(escaped).join(REDACTED);
  }
  for (const re of SECRET_PATTERNS) out = out.replace(re, REDACTED);
  return out;
}

function eventName(e: Record<string, unknown>): string {
  if (typeof e['event'] === 'string' && e['event'] !== '') return e['event'];
  // Lines from the connection carry a diagnosis cause instead of an event name.
  const component = typeof e['component'] === 'string' ? e['component'] : 'agent';
  return typeof e['cause'] === 'string' ? `${component}.${e['cause']}` : `${component}.log`;
}

export function formatLine(line: string, format: LogFormat): string {
  if (format === 'json') return line;
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  return formatEvent(event, line, format);
}

function formatEvent(event: Record<string, unknown>, line: string, format: LogFormat): string {
  if (format === 'json') return line;
  const level = typeof event['level'] === 'number' ? event['level'] : 30;
  if (format === 'syslog-stdout') return `<${syslogSeverity(level)}>${line}`;
  const time = typeof event['time'] === 'string' ? event['time'].slice(11, 23) : '';
  const extras = Object.entries(event)
    .filter(([k]) => !HIDDEN_IN_PRETTY.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${time} ${(LEVEL_NAME[level] ?? 'INFO').padEnd(5)} ${typeof event['thing'] === 'string' ? event['thing'] : ''} ${typeof event['msg'] === 'string' ? event['msg'] : ''}${extras ? `  ${extras}` : ''}\n`;
}

export interface AgentLoggingOptions {
  level: LogLevel;
  format: LogFormat;
  thing: string;
  out?: NodeJS.WritableStream;
  /** RFC 5424 collector; undefined = none. */
  syslog?: SyslogTarget & { facility: Facility; appName: string; hostname?: string };
  /** Secret values that must never appear in a line (e.g. the camera password). */
  secrets?: readonly string[];
}

export interface AgentLogging {
  readonly log: Logger;
  /** The collector's counters, when one is configured. */
  readonly syslogStats: SyslogStats | undefined;
  close(): Promise<void>;
}

export function createAgentLogging(opts: AgentLoggingOptions): AgentLogging {
  const out = opts.out ?? process.stdout;
  const secrets = [...(opts.secrets ?? [])];
  // The collector's recovery report goes through the logger that is made below.
  const self: { log?: Logger } = {};
  const syslog: SyslogSender | undefined = opts.syslog
    ? createSyslogSender({
        ...opts.syslog,
        onRecovered: (dropped) => self.log?.warn({ event: 'log.syslog-recovered', dropped }, `syslog collector reachable again; ${dropped} lines were dropped while it was not`),
      })
    : undefined;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const raw of chunk.toString('utf8').split('\n')) {
        if (raw === '') continue;
        let event: Record<string, unknown>;
        try {
          event = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          out.write(scrubSecrets(raw, secrets) + '\n');
          continue;
        }
        if (typeof event['event'] !== 'string') event = { ...event, event: eventName(event) };
        const line = scrubSecrets(JSON.stringify(event), secrets);
        out.write(formatEvent(JSON.parse(line) as Record<string, unknown>, line + '\n', opts.format));
        if (syslog) {
          const level = typeof event['level'] === 'number' ? event['level'] : 30;
          const id = event['id'];
          syslog.send({
            severity: syslogSeverity(level),
            time: typeof event['time'] === 'string' ? event['time'] : new Date().toISOString(),
            event: eventName(event),
            thing: opts.thing,
            ...(typeof id === 'string' ? { requestId: scrubSecrets(id, secrets) } : {}),
            message: line,
          });
        }
      }
      done();
    },
  });
  const log = pino(
    {
      level: opts.level,
      base: { thing: opts.thing },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    sink,
  );
  self.log = log;
  return {
    log,
    syslogStats: syslog?.stats,
    close: async () => {
      await syslog?.close();
    },
  };
}

/** A logger without a collector (tests, tools): stdout or `out` only. */
export function createAgentLogger(opts: Omit<AgentLoggingOptions, 'syslog'>): Logger {
  return createAgentLogging(opts).log;
}
