import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';

/**
 * RFC 5424 syslog to a collector over UDP (RFC 5426) or TCP (RFC 6587 octet counting), in-process.
 * Why not pino-syslog + pino-socket: pino transports run in worker threads that need their worker
 * files beside the bundle, and the camera build is one file (docs/decisions.md).
 *
 * It never blocks and never throws into the caller: a message is handed to the socket or dropped
 * (and counted) when the collector is down or the socket's buffer is full. A dead collector costs
 * the agent nothing but those lines; stdout still has them.
 */
export const FACILITIES = {
  kern: 0, user: 1, daemon: 3, auth: 4, syslog: 5,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;
export type Facility = keyof typeof FACILITIES;

/** Private enterprise number 32473 is reserved for documentation and examples (RFC 5612). */
const SD_ID = 'cloudcam@32473';
/** rsyslog's default maxMessageSize is 8 KB; a longer line would be cut by the collector anyway. */
export const MAX_MESSAGE_BYTES = 8000;
/** Messages kept while the TCP connection is (re)connecting; more are dropped. */
const MAX_QUEUED = 500;
/** Socket buffer above which TCP messages are dropped instead of queued in memory. */
const MAX_BUFFERED_BYTES = 256 * 1024;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;

export interface SyslogEvent {
  /** RFC 5424 severity 0..7 */
  severity: number;
  time: string;
  /** MSGID: a short event name, printable ASCII, at most 32 characters. */
  event: string;
  thing: string;
  requestId?: string;
  /** The message text: here, the whole JSON event. */
  message: string;
}

function printable(s: string, max: number): string {
  const clean = s.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean === '' ? '-' : clean;
}

/** SD-PARAM values escape `"`, `\` and `]` (RFC 5424 §6.3.3). */
function sdValue(s: string): string {
  return s.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

export function formatRfc5424(e: SyslogEvent, o: { facility: Facility; hostname: string; appName: string; procId: number }): string {
  const pri = FACILITIES[o.facility] * 8 + Math.min(7, Math.max(0, Math.trunc(e.severity)));
  const params = [`thing="${sdValue(e.thing)}"`, ...(e.requestId ? [`id="${sdValue(e.requestId)}"`] : [])].join(' ');
  const head = `<${pri}>1 ${e.time} ${printable(o.hostname, 255)} ${printable(o.appName, 48)} ${o.procId} ${printable(e.event, 32)} [${SD_ID} ${params}] `;
  const line = head + e.message.replace(/[\r\n]+/g, ' ');
  return truncateUtf8(line, MAX_MESSAGE_BYTES);
}

function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  // Cut on a character boundary: decoding a cut buffer would end in U+FFFD, never a broken byte.
  return Buffer.from(s).subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '');
}

export interface SyslogTarget {
  protocol: 'udp' | 'tcp';
  host: string;
  port: number;
}

/** `udp://host:port` or `tcp://host:port` (IPv6 in brackets); undefined for ''. Throws with the fix. */
export function parseSyslogUrl(raw: string): SyslogTarget | undefined {
  if (raw === '') return undefined;
  const m = /^(udp|tcp):\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) {
    throw new Error(`must be "" (off), udp://HOST:PORT or tcp://HOST:PORT, e.g. udp://10.0.0.5:514, got ${JSON.stringify(raw)}`);
  }
  return { protocol: m[1] as 'udp' | 'tcp', host: (m[2] ?? '').replace(/^\[|\]$/g, ''), port };
}

export interface SyslogStats {
  sent: number;
  dropped: number;
  /** Last transport error (code or message), for the agent's own report. */
  lastError?: string;
}

export interface SyslogSender {
  readonly stats: SyslogStats;
  send(event: SyslogEvent): void;
  /** Flushes what the socket already holds (bounded by timeoutMs) and closes. */
  close(timeoutMs?: number): Promise<void>;
}

export interface SyslogSenderOptions extends SyslogTarget {
  facility: Facility;
  appName: string;
  hostname?: string;
  /** Called once when lines were dropped and the collector is reachable again (not for each drop). */
  onRecovered?: (dropped: number) => void;
}

export function createSyslogSender(o: SyslogSenderOptions): SyslogSender {
  const fmt = { facility: o.facility, hostname: o.hostname ?? os.hostname(), appName: o.appName, procId: process.pid };
  return o.protocol === 'udp' ? udpSender(o, fmt) : tcpSender(o, fmt);
}

type Fmt = Parameters<typeof formatRfc5424>[1];

function udpSender(o: SyslogSenderOptions, fmt: Fmt): SyslogSender {
  const stats: SyslogStats = { sent: 0, dropped: 0 };
  const socket = dgram.createSocket(net.isIPv6(o.host) ? 'udp6' : 'udp4');
  socket.on('error', (err) => (stats.lastError = (err as NodeJS.ErrnoException).code ?? err.message));
  socket.unref();
  let closed = false;
  let inFlight = 0;
  let droppedSinceOk = 0;
  let drained: (() => void) | undefined;
  return {
    stats,
    send(e) {
      if (closed) return;
      inFlight += 1;
      socket.send(formatRfc5424(e, fmt), o.port, o.host, (err) => {
        inFlight -= 1;
        if (err) {
          stats.dropped += 1;
          droppedSinceOk += 1;
          stats.lastError = (err as NodeJS.ErrnoException).code ?? err.message;
        } else {
          stats.sent += 1;
          if (droppedSinceOk > 0) {
            const n = droppedSinceOk;
            droppedSinceOk = 0;
            o.onRecovered?.(n);
          }
        }
        if (inFlight === 0) drained?.();
      });
    },
    async close(timeoutMs = 1000) {
      if (closed) return;
      closed = true;
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, timeoutMs);
          drained = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}

function tcpSender(o: SyslogSenderOptions, fmt: Fmt): SyslogSender {
  const stats: SyslogStats = { sent: 0, dropped: 0 };
  let socket: net.Socket | undefined;
  let connected = false;
  let closed = false;
  let queue: string[] = [];
  let retryMs = RECONNECT_MIN_MS;
  let retryTimer: NodeJS.Timeout | undefined;
  let droppedSinceOk = 0;

  const drop = (): void => {
    stats.dropped += 1;
    droppedSinceOk += 1;
  };
  const frame = (msg: string): string => `${Buffer.byteLength(msg)} ${msg}`;
  const write = (msg: string): void => {
    if (!socket || socket.writableLength > MAX_BUFFERED_BYTES) return drop();
    socket.write(frame(msg));
    stats.sent += 1;
  };

  const connect = (): void => {
    retryTimer = undefined;
    if (closed) return;
    const s = net.connect({ host: o.host, port: o.port });
    socket = s;
    s.unref(); // a syslog connection never keeps the agent alive
    s.setNoDelay(true);
    s.on('connect', () => {
      connected = true;
      retryMs = RECONNECT_MIN_MS;
      const pending = queue;
      queue = [];
      for (const msg of pending) write(msg);
      if (droppedSinceOk > 0) {
        const n = droppedSinceOk;
        droppedSinceOk = 0;
        o.onRecovered?.(n);
      }
    });
    // The collector never talks back in RFC 6587; reading keeps a half-closed socket noticed.
    s.on('data', () => undefined);
    s.on('error', (err) => (stats.lastError = (err as NodeJS.ErrnoException).code ?? err.message));
    s.on('close', () => {
      connected = false;
      if (socket === s) socket = undefined;
      if (closed) return;
      retryTimer = setTimeout(connect, retryMs * (0.5 + Math.random() / 2));
      retryTimer.unref();
      retryMs = Math.min(RECONNECT_MAX_MS, retryMs * 2);
    });
  };
  connect();

  return {
    stats,
    send(e) {
      if (closed) return;
      const msg = formatRfc5424(e, fmt);
      if (connected) return write(msg);
      if (queue.length >= MAX_QUEUED) return drop();
      queue.push(msg);
    },
    async close(timeoutMs = 1000) {
      if (closed) return;
      closed = true;
      clearTimeout(retryTimer);
      const s = socket;
      if (s && !connected && queue.length > 0) {
        // Lines logged just before stopping (the last ones an operator wants) wait for the connect.
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, timeoutMs);
          s.once('connect', () => {
            clearTimeout(t);
            resolve();
          });
          s.once('close', () => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      stats.dropped += queue.length;
      queue = [];
      if (!s || s.destroyed) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          s.destroy();
          resolve();
        }, timeoutMs);
        s.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        if (connected) s.end();
        else s.destroy();
      });
    },
  };
}
