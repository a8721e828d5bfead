import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { ErrorWithSubackPacket, MqttClient, type IClientOptions, type IConnackPacket, type IPublishPacket, type Packet } from 'mqtt';
import type { Logger } from '../lib/log.js';
import { Backoff } from './backoff.js';
import type { AgentConfig } from './config/index.js';
import { diagnose, readCertificateSummary, reasonName, summarizePeerCertificate, type AttemptFacts, type Diagnosis } from './tls-diagnosis.js';

export interface ConnectionEvents {
  connected: [{ sessionPresent: boolean; attempt: number }];
  disconnected: [{ reason: string }];
  message: [topic: string, payload: Buffer, packet: IPublishPacket];
}

/** The TLS files a connection attempt reads (CA to trust the broker, the device's certificate and key). */
export interface TlsFiles {
  caPath: string;
  certPath: string;
  keyPath: string;
}

export interface AgentConnection extends EventEmitter<ConnectionEvents> {
  readonly client: MqttClient;
  readonly connected: boolean;
  /** The files the next attempt reads: iot.* from the config until reconnectWith() replaced them. */
  readonly tlsFiles: TlsFiles;
  /**
   * Uses these files from now on and reconnects at once: a clean DISCONNECT first (the broker drops
   * the last will, so presence does not flap to offline), then a fresh attempt without backoff.
   */
  reconnectWith(files: TlsFiles, why: string): void;
  /** Begins connecting; keeps trying forever with backoff, also before the first success. */
  start(): void;
  publish(topic: string, payload: string | Buffer, opts?: { qos?: 0 | 1; retain?: boolean }): Promise<void>;
  /** Rejects naming the topic when the broker refuses it (SUBACK failure code). */
  subscribe(topics: string[], qos?: 0 | 1): Promise<void>;
  /** Publishes finalMessage if connected, then disconnects cleanly (no last will); bounded by timeoutMs. */
  stop(opts?: { finalMessage?: { topic: string; payload: string }; timeoutMs?: number }): Promise<void>;
}

export interface ConnectionOptions {
  will: { topic: string; payload: string; qos: 1; retain: boolean };
  log: Logger;
  /** The device clock, for diagnosis messages (injected in tests). */
  now?: () => Date;
  /** Uniform random in [0, 1) for the backoff jitter (injected in tests). */
  random?: () => number;
  /** A connection that stays up this long resets the backoff and the diagnosis streak. Default 30 s. */
  stableAfterMs?: number;
}

/** How long the broker keeps the persistent session (subscriptions, queued QoS 1) after a drop. */
export const SESSION_EXPIRY_SECONDS = 3600;
const STABLE_AFTER_MS = 30_000;
const STOP_TIMEOUT_MS = 5000;
/** Server closes further apart than this are not counted as one flapping streak. */
const TAKEOVER_WINDOW_MS = 10 * 60_000;
/** AWS IoT's ALPN protocol for MQTT with X.509 client certificates on port 443. */
const AWS_MQTT_ALPN = 'x-amzn-mqtt-ca';

export function createConnection(cfg: AgentConfig, opts: ConnectionOptions): AgentConnection {
  return new MqttConnection(cfg, opts);
}

type State = 'idle' | 'connecting' | 'connected' | 'waiting' | 'replacing' | 'stopping' | 'stopped';

class MqttConnection extends EventEmitter<ConnectionEvents> implements AgentConnection {
  readonly client: MqttClient;
  readonly #cfg: AgentConfig;
  readonly #opts: ConnectionOptions;
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #backoff: Backoff;
  readonly #stableAfterMs: number;
  #state: State = 'idle';
  /** Attempts in the current streak (1 = the first try after start or after a stable session). */
  #attempt = 0;
  #facts: AttemptFacts = freshFacts(0);
  #files: TlsFiles;
  #credentials: { ca: Buffer; cert: Buffer; key: Buffer } | undefined;
  #connectedAt: number | undefined;
  #lastCause: string | undefined;
  #serverCloses = 0;
  #lastServerCloseAt = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #stableTimer: NodeJS.Timeout | undefined;

  constructor(cfg: AgentConfig, opts: ConnectionOptions) {
    super();
    this.#cfg = cfg;
    this.#files = { caPath: cfg.iot.caPath, certPath: cfg.iot.certPath, keyPath: cfg.iot.keyPath };
    this.#opts = opts;
    this.#log = opts.log.child({ component: 'mqtt', thing: cfg.thingName });
    this.#now = opts.now ?? (() => new Date());
    this.#stableAfterMs = opts.stableAfterMs ?? STABLE_AFTER_MS;
    this.#backoff = new Backoff({
      minMs: cfg.iot.reconnect.minMs,
      maxMs: cfg.iot.reconnect.maxMs,
      ...(opts.random ? { random: opts.random } : {}),
    });
    const { will } = opts;
    const options: IClientOptions = {
      clientId: cfg.thingName,
      protocolId: 'MQTT',
      protocolVersion: cfg.iot.mqttVersion,
      keepalive: cfg.iot.keepaliveSeconds,
      // A persistent session keeps subscriptions and QoS 1 messages across short drops.
      clean: false,
      ...(cfg.iot.mqttVersion === 5 ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_SECONDS } } : {}),
      connectTimeout: cfg.iot.connectTimeoutMs,
      // Reconnects are ours (backoff with jitter, diagnosis); mqtt.js's fixed period would fight them.
      reconnectPeriod: 0,
      manualConnect: true,
      // Features subscribe again on every 'connected'; mqtt.js's own replay would double it.
      resubscribe: false,
      will: { topic: will.topic, payload: Buffer.from(will.payload), qos: will.qos, retain: will.retain },
      // mqtt-packet's default number cache is 65,536 small Buffers (~6 MB of heap) to speed up packet
      // writing; a camera sends a few packets a minute, so memory matters more than that speed.
      writeCache: false,
    };
    this.client = new MqttClient(() => this.#openSocket(), options);
    this.client.on('error', (err) => this.#recordError(err));
    this.client.on('packetreceive', (packet) => this.#onPacket(packet));
    this.client.on('connect', (connack) => this.#onConnect(connack));
    this.client.on('close', () => this.#onClose());
    this.client.on('message', (topic, payload, packet) => this.emit('message', topic, payload, packet));
  }

  get connected(): boolean {
    return this.#state === 'connected';
  }

  get tlsFiles(): TlsFiles {
    return { ...this.#files };
  }

  reconnectWith(files: TlsFiles, why: string): void {
    this.#files = { ...files };
    const state = this.#state;
    if (state === 'idle' || state === 'stopping' || state === 'stopped' || state === 'replacing') return;
    this.#log.info({ event: 'mqtt.reconnect', why, certPath: files.certPath }, `reconnecting: ${why}`);
    this.#clearTimers();
    this.#backoff.reset();
    this.#attempt = 0;
    this.#lastCause = undefined;
    if (state === 'waiting') {
      this.#attemptConnect();
      return;
    }
    // connected: DISCONNECT cleanly; connecting: abandon the attempt. 'close' is ignored while replacing.
    this.#state = 'replacing';
    this.#connectedAt = undefined;
    this.client.end(state !== 'connected', () => {
      // After mqtt.js has finished its own end bookkeeping (it runs on after this callback).
      setImmediate(() => {
        if (this.#state !== 'replacing') return; // stop() came meanwhile
        if (state === 'connected') this.emit('disconnected', { reason: why });
        this.#attemptConnect();
      });
    });
  }

  start(): void {
    if (this.#state === 'stopping' || this.#state === 'stopped') throw new Error('this connection was stopped; create a new one');
    if (this.#state !== 'idle') return;
    this.#attemptConnect();
  }

  async publish(topic: string, payload: string | Buffer, opts: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') throw new Error(`cannot publish to ${topic}: the connection is stopped`);
    await this.client.publishAsync(topic, payload, { qos: opts.qos ?? 0, retain: opts.retain ?? false });
  }

  async subscribe(topics: string[], qos: 0 | 1 = 1): Promise<void> {
    if (topics.length === 0) return;
    let granted: number[];
    try {
      granted = (await this.client.subscribeAsync(topics, { qos })).map((g) => g.qos);
    } catch (err) {
      if (!(err instanceof ErrorWithSubackPacket)) {
        throw new Error(`subscribe to ${topics.join(', ')} failed: ${(err as Error).message}`, { cause: err });
      }
      granted = (err.packet.granted as unknown[]).map((g) => (typeof g === 'number' ? g : 0x80));
    }
    const refused = topics.map((topic, i) => ({ topic, code: granted[i] ?? 0x80 })).filter((g) => g.code >= 0x80);
    if (refused.length === 0) return;
    const first = refused[0] ?? { topic: topics[0] ?? '', code: 0x80 };
    const list = refused.map((r) => r.topic).join(', ');
    const message =
      first.code === 0x80 || first.code === 0x87
        ? `not authorized — the IoT policy does not allow subscribing to ${list} (SUBACK 0x${first.code.toString(16)}); add it to the policy's iot:Subscribe resources`
        : `the broker refused the subscription to ${list} (SUBACK 0x${first.code.toString(16)} ${reasonName(first.code)})`;
    this.#log.error({ topics: refused.map((r) => r.topic), code: first.code }, message);
    throw new Error(message);
  }

  async stop(opts: { finalMessage?: { topic: string; payload: string }; timeoutMs?: number } = {}): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    const wasReplacing = this.#state === 'replacing';
    const wasStarted = this.#state !== 'idle';
    const wasConnected = this.#state === 'connected';
    this.#state = 'stopping';
    this.#clearTimers();
    const deadline = Date.now() + (opts.timeoutMs ?? STOP_TIMEOUT_MS);
    if (wasConnected && opts.finalMessage) {
      const { topic, payload } = opts.finalMessage;
      // The final message says what the will would have said; keep its retain flag for that topic.
      const retain = topic === this.#opts.will.topic && this.#opts.will.retain;
      const sent = await withDeadline(this.client.publishAsync(topic, payload, { qos: 1, retain }), deadline);
      if (sent !== 'done') this.#log.warn({ topic, outcome: sent }, 'final message not acknowledged before stop; the last will covers it');
    }
    if (wasStarted && !wasReplacing) {
      // A clean DISCONNECT (reason 0) tells the broker to discard the last will.
      const ended = await withDeadline(this.client.endAsync(!wasConnected), deadline);
      if (ended !== 'done') await withDeadline(this.client.endAsync(true), Date.now() + 1000);
    }
    this.#state = 'stopped';
    this.#log.info('MQTT connection stopped');
  }

  // ---------------------------------------------------------------------------------------------

  #attemptConnect(): void {
    this.#retryTimer = undefined;
    this.#attempt += 1;
    this.#facts = freshFacts(this.#serverClosesInWindow());
    try {
      // Read on every attempt: a renewed certificate is picked up without a restart.
      this.#credentials = {
        ca: fs.readFileSync(this.#files.caPath),
        cert: fs.readFileSync(this.#files.certPath),
        key: fs.readFileSync(this.#files.keyPath),
      };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      this.#state = 'waiting';
      this.#report({
        cause: 'credentials-unreadable',
        level: 'error',
        message: `cannot read ${e.path ?? 'a TLS file'} (${e.code ?? e.message}): check iot.caPath, iot.certPath and iot.keyPath`,
      });
      this.#scheduleRetry();
      return;
    }
    this.#state = 'connecting';
    this.#log.debug({ attempt: this.#attempt, endpoint: this.#cfg.iot.endpoint, port: this.#cfg.iot.port }, 'connecting');
    this.client.connect();
  }

  #openSocket(): tls.TLSSocket {
    const creds = this.#credentials;
    if (!creds) throw new Error('internal: socket requested before the credentials were read');
    const facts = this.#facts;
    const socket = tls.connect(tlsOptions(this.#cfg, creds));
    // 'secure' fires before Node checks the certificate and destroys the socket on failure, so this
    // is the last moment the server certificate can be read for the diagnosis (e.g. its dates).
    socket.prependListener('secure', () => {
      facts.serverCert = summarizePeerCertificate(socket.getPeerCertificate());
    });
    socket.once('secureConnect', () => {
      facts.tlsEstablished = socket.authorized;
    });
    socket.on('error', (err) => {
      if (facts.error === undefined) facts.error = err;
    });
    return socket;
  }

  #recordError(err: Error): void {
    if (this.#facts.error === undefined) this.#facts.error = err;
  }

  #onPacket(packet: Packet): void {
    if (packet.cmd === 'connack') {
      this.#facts.connackReceived = true;
      const rc = this.#cfg.iot.mqttVersion === 5 ? packet.reasonCode : packet.returnCode;
      if (rc !== undefined && rc !== 0) this.#facts.connackCode = rc;
    } else if (packet.cmd === 'disconnect') {
      this.#facts.disconnectReasonCode = packet.reasonCode ?? 0;
    }
  }

  #onConnect(connack: IConnackPacket): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'connected';
    this.#connectedAt = this.#now().getTime();
    const sessionPresent = connack.sessionPresent;
    const attempt = this.#attempt;
    this.#log.info({ attempt, sessionPresent, endpoint: this.#cfg.iot.endpoint, port: this.#cfg.iot.port }, 'MQTT connected');
    this.#stableTimer = setTimeout(() => this.#onStable(), this.#stableAfterMs);
    this.#stableTimer.unref();
    this.emit('connected', { sessionPresent, attempt });
  }

  #onStable(): void {
    this.#stableTimer = undefined;
    this.#backoff.reset();
    this.#attempt = 0;
    this.#lastCause = undefined;
  }

  #onClose(): void {
    if (this.#state === 'stopping' || this.#state === 'stopped' || this.#state === 'idle' || this.#state === 'replacing') return;
    const wasConnected = this.#state === 'connected';
    clearTimeout(this.#stableTimer);
    this.#stableTimer = undefined;
    const facts = this.#facts;
    if (wasConnected && this.#connectedAt !== undefined) facts.connectedForMs = this.#now().getTime() - this.#connectedAt;
    this.#connectedAt = undefined;
    this.#state = 'waiting';

    const diagnosis = diagnose(facts, {
      thingName: this.#cfg.thingName,
      endpoint: this.#cfg.iot.endpoint,
      port: this.#cfg.iot.port,
      mqttVersion: this.#cfg.iot.mqttVersion,
      caPath: this.#files.caPath,
      certPath: this.#files.certPath,
      connectTimeoutMs: this.#cfg.iot.connectTimeoutMs,
      now: this.#now(),
      clientCert: readCertificateSummary(this.#files.certPath),
    });
    this.#trackServerCloses(diagnosis, wasConnected);
    this.#report(diagnosis);
    if (wasConnected) this.emit('disconnected', { reason: diagnosis.message });
    // An emitted listener may have called stop().
    if ((this.#state as State) === 'waiting') this.#scheduleRetry();
  }

  #trackServerCloses(d: Diagnosis, wasConnected: boolean): void {
    const quietClose = wasConnected && (d.cause === 'server-closed' || d.cause === 'session-taken-over');
    if (!quietClose) {
      this.#serverCloses = 0;
      return;
    }
    const at = this.#now().getTime();
    this.#serverCloses = at - this.#lastServerCloseAt <= TAKEOVER_WINDOW_MS ? this.#serverCloses + 1 : 1;
    this.#lastServerCloseAt = at;
  }

  #serverClosesInWindow(): number {
    return this.#now().getTime() - this.#lastServerCloseAt <= TAKEOVER_WINDOW_MS ? this.#serverCloses : 0;
  }

  /** One log line per distinct cause per streak: repeating the same failure every retry is noise. */
  #report(d: Diagnosis): void {
    const fields = { cause: d.cause, attempt: this.#attempt };
    if (d.cause !== this.#lastCause) {
      this.#lastCause = d.cause;
      this.#log[d.level](fields, d.message);
    } else {
      this.#log.debug(fields, `still failing: ${d.message}`);
    }
  }

  #scheduleRetry(): void {
    const delay = this.#backoff.next();
    this.#log.debug({ attempt: this.#attempt + 1, delayMs: delay }, 'next connection attempt scheduled');
    this.#retryTimer = setTimeout(() => this.#attemptConnect(), delay);
  }

  #clearTimers(): void {
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#stableTimer);
    this.#retryTimer = undefined;
    this.#stableTimer = undefined;
  }
}

/**
 * TLS settings of every attempt. Certificate checks cannot be switched off: a camera that accepts
 * any server would hand its shadow (and upload URLs) to whoever answers.
 */
export function tlsOptions(cfg: AgentConfig, creds: { ca: Buffer; cert: Buffer; key: Buffer }): tls.ConnectionOptions {
  const { endpoint, port } = cfg.iot;
  return {
    host: endpoint,
    port,
    // SNI must be a host name (RFC 6066); AWS IoT requires it, and it is what the certificate is checked against.
    ...(net.isIP(endpoint) === 0 ? { servername: endpoint } : {}),
    ca: creds.ca,
    cert: creds.cert,
    key: creds.key,
    minVersion: 'TLSv1.2',
    rejectUnauthorized: true,
    ...(port === 443 ? { ALPNProtocols: [AWS_MQTT_ALPN] } : {}),
  };
}

function freshFacts(previousServerCloses: number): AttemptFacts {
  return { tlsEstablished: false, connackReceived: false, previousServerCloses };
}

/** Races a promise against a deadline; never rejects. */
async function withDeadline(p: Promise<unknown>, deadline: number): Promise<'done' | 'timeout' | 'failed'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([p.then(() => 'done' as const, () => 'failed' as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
