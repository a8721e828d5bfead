/**
 * Test kit for the agent's MQTT connection: a pino logger whose lines tests can await, TLS servers
 * on ephemeral ports that speak just enough raw MQTT to script a broker's misbehaviour, and an
 * AgentConfig builder.
 */
import { once } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../../src/lib/log.js';
import type { AgentConfig } from '../../src/agent/config/index.js';

export interface LogLine {
  level: number;
  msg: string;
  cause?: string;
  attempt?: number;
  [key: string]: unknown;
}

export const LEVEL = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 } as const;

export interface CapturedLog {
  log: Logger;
  lines: LogLine[];
  /** Resolves with the first line (past or future) that matches; rejects after timeoutMs. */
  waitFor(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

export function captureLog(): CapturedLog {
  const lines: LogLine[] = [];
  const waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (!text.trim()) continue;
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.match(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
      cb();
    },
  });
  const log = createLogger({ name: 'test', level: 'debug', destination: sink });
  return {
    log,
    lines,
    waitFor(match, timeoutMs = 10_000) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise<LogLine>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no matching log line within ${timeoutMs} ms; got:\n${lines.map((l) => `${l.level} ${l.msg}`).join('\n')}`));
        }, timeoutMs);
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
}

export function testConfig(paths: { caPath: string; certPath: string; keyPath: string }, overrides: {
  thingName?: string;
  endpoint?: string;
  port: number;
  mqttVersion?: 4 | 5;
  reconnect?: { minMs: number; maxMs: number };
  connectTimeoutMs?: number;
  stateDir?: string;
}): AgentConfig {
  return {
    thingName: overrides.thingName ?? 'cam-test-1',
    iot: {
      endpoint: overrides.endpoint ?? '127.0.0.1',
      port: overrides.port,
      mqttVersion: overrides.mqttVersion ?? 4,
      keepaliveSeconds: 60,
      caPath: paths.caPath,
      certPath: paths.certPath,
      keyPath: paths.keyPath,
      reconnect: overrides.reconnect ?? { minMs: 20, maxMs: 100 },
      connectTimeoutMs: overrides.connectTimeoutMs ?? 5000,
    },
    camera: { url: 'http://127.0.0.1', username: '', password: '', timeoutMs: 1000, access: 'configured', serviceAccountUrl: 'http://127.0.0.12' },
    snapshot: {
      resolution: '640x480',
      compression: 30,
      maxBytes: 1_000_000,
      captureTimeoutMs: 1000,
      uploadTimeoutMs: 1000,
      allowedUploadHosts: [],
      insecureHttpUploadHosts: [],
    },
    schedule: { cron: '' },
    events: { triggers: [], capPerMinute: 30, queue: { maxCount: 100, maxBytes: 20 * 1024 * 1024 }, preBuffer: { frames: 0, fps: 2, maxBytes: 4 * 1024 * 1024, resolution: '1280x720' } },
    jobs: { enabled: false, stepTimeoutMinutes: 15 },
    live: { enabled: false, maxViewers: 4, idleSeconds: 30, rtspPort: 554, credentialsEndpoint: '', roleAlias: '', region: '', kvsEndpoint: '', caPath: '', rtspUsername: '', rtspPassword: '' },
    stateDir: overrides.stateDir ?? '/nonexistent',
    log: { level: 'debug', format: 'json', syslog: { url: '', facility: 'daemon', appName: 'cloudcam' } },
    shadowName: 'cloudcam',
    localApi: { port: 0, allowedPeerUids: [], identityTrialMs: 120_000 },
    provisioning: { claimCertPath: '', claimKeyPath: '', templateName: '', keyType: 'ec-p256' },
    update: {
      releaseKeysDir: '',
      extraReleaseKeyPath: '',
      allowedDownloadHosts: [],
      insecureHttpDownloadHosts: [],
      maxPackageBytes: 200 * 1024 * 1024,
      downloadTimeoutMs: 600_000,
      connectBoundMs: 600_000,
      maxStarts: 3,
    },
  };
}

export async function writePair(dir: string, name: string, pair: { certPem: string; keyPem: string }): Promise<{ certPath: string; keyPath: string }> {
  const certPath = path.join(dir, `${name}.crt`);
  const keyPath = path.join(dir, `${name}.key`);
  await fs.writeFile(certPath, pair.certPem);
  await fs.writeFile(keyPath, pair.keyPem, { mode: 0o600 });
  return { certPath, keyPath };
}

/** One MQTT control packet as read off the wire. */
export interface RawPacket {
  type: number;
  flags: number;
  body: Buffer;
}

/** Splits a byte stream into MQTT packets (fixed header + variable-length remaining length). */
export function packetReader(onPacket: (p: RawPacket) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      let len = 0;
      let mul = 1;
      let i = 1;
      for (;;) {
        const b = buf[i];
        if (b === undefined) return;
        len += (b & 0x7f) * mul;
        mul *= 128;
        i += 1;
        if ((b & 0x80) === 0) break;
      }
      if (buf.length < i + len) return;
      const first = buf[0] ?? 0;
      onPacket({ type: first >> 4, flags: first & 0x0f, body: buf.subarray(i, i + len) });
      buf = buf.subarray(i + len);
    }
  };
}

export const PACKET = { CONNECT: 1, CONNACK: 2, PUBLISH: 3, PUBACK: 4, SUBSCRIBE: 8, SUBACK: 9, PINGREQ: 12, PINGRESP: 13, DISCONNECT: 14 } as const;

export interface ScriptedServer {
  port: number;
  /** Connections accepted so far. */
  sockets: tls.TLSSocket[];
  close(): Promise<void>;
}

/**
 * A TLS server on 127.0.0.1:0 whose behaviour per MQTT packet is scripted by the test.
 * onPacket gets the socket and may write raw bytes or destroy it.
 */
export async function startScriptedServer(opts: {
  cert: string;
  key: string;
  /** Set to verify client certificates against this CA. */
  clientCa?: string;
  port?: number;
  onPacket?: (socket: tls.TLSSocket, packet: RawPacket) => void;
}): Promise<ScriptedServer> {
  const sockets: tls.TLSSocket[] = [];
  const server = tls.createServer(
    {
      cert: opts.cert,
      key: opts.key,
      minVersion: 'TLSv1.2',
      ...(opts.clientCa ? { ca: opts.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
    },
    (socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
      socket.on('data', packetReader((p) => opts.onPacket?.(socket, p)));
    },
  );
  server.on('tlsClientError', () => undefined);
  server.listen(opts.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** CONNACK bytes: v3.1.1 [flags, return code]; v5 adds an empty property list. */
export function connack(version: 4 | 5, code: number, sessionPresent = false): Buffer {
  return version === 5 ? Buffer.from([0x20, 3, sessionPresent ? 1 : 0, code, 0]) : Buffer.from([0x20, 2, sessionPresent ? 1 : 0, code]);
}

/** The packet id of a SUBSCRIBE, or of a QoS 1 PUBLISH (after its topic). */
export function packetId(p: RawPacket): number {
  if (p.type === PACKET.PUBLISH) {
    const topicLen = p.body.readUInt16BE(0);
    return p.body.readUInt16BE(2 + topicLen);
  }
  return p.body.readUInt16BE(0);
}

export function publishTopic(p: RawPacket): string {
  const topicLen = p.body.readUInt16BE(0);
  return p.body.subarray(2, 2 + topicLen).toString('utf8');
}
