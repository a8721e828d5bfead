import type { Agent } from 'node:http';
import WebSocket from 'ws';
import { digestAuthorization, parseDigestChallenges, pickChallenge, type DigestCredentials } from '../../../protocol/digest.js';
import type { VapixCredentialSource } from '../../../protocol/vapix/auth.js';
import { EVENT_STREAM_PATH, MAX_EVENT_MESSAGE_BYTES, configureMessage, parseEventStreamMessage, type CameraEvent } from '../../../protocol/vapix/events.js';
import { Backoff } from '../../backoff.js';
import type { Logger } from '../../../lib/log.js';

/**
 * The agent's end of the camera's VAPIX event stream: one WebSocket session, authenticated on the
 * upgrade request with HTTP Digest like any VAPIX call (the same credentials the snapshots use, the
 * keyless service account included), configured with the triggers' topic filters, and reconnected
 * with backoff (full jitter) whenever it drops. Hostile messages are counted and logged, never thrown.
 */
export interface EventStreamOptions {
  /** The camera's VAPIX base URL (http(s)://...); the stream is ws(s):// on the same host. */
  baseUrl: string;
  credentials: VapixCredentialSource;
  topicFilters: readonly string[];
  onEvent: (event: CameraEvent) => void;
  log: Logger;
  agent?: Agent;
  backoff?: { minMs: number; maxMs: number };
}

export interface EventStream {
  start(): void;
  stop(): Promise<void>;
  readonly stats: { sessions: number; invalid: number; connected: boolean; authRefused: number };
  /** Resolves when the next session is configured (tests, start-up). */
  configured(): Promise<void>;
}

const HEALTHY_MS = 30_000;

export function createEventStream(opts: EventStreamOptions): EventStream {
  const base = new URL(opts.baseUrl);
  const wsUrl = `${base.protocol === 'https:' ? 'wss:' : 'ws:'}//${base.host}${EVENT_STREAM_PATH}`;
  const backoff = new Backoff(opts.backoff ?? { minMs: 500, maxMs: 60_000 });
  const stats = { sessions: 0, invalid: 0, connected: false, authRefused: 0 };
  let ws: WebSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  let authorization: string | undefined;
  let refused: DigestCredentials | undefined;
  let configuredWaiters: (() => void)[] = [];
  let openedAt = 0;
  const { log } = opts;

  function schedule(why: string): void {
    if (stopped || timer) return;
    if (Date.now() - openedAt > HEALTHY_MS) backoff.reset();
    const delay = backoff.next();
    log.warn({ event: 'events.stream-down', why, retryMs: delay }, `camera event stream down (${why}); reconnecting in ${delay} ms`);
    timer = setTimeout(() => {
      timer = undefined;
      connect();
    }, delay);
  }

  /** The Authorization header answering a 401's challenge; undefined when none can be answered. */
  async function answer(wwwAuthenticate: string | string[] | undefined): Promise<string | undefined> {
    const cred = refused ? await opts.credentials.renew(refused) : await opts.credentials.current();
    const challenge = pickChallenge(parseDigestChallenges(wwwAuthenticate ?? []));
    refused = cred;
    if (challenge) return digestAuthorization(challenge, cred, { method: 'GET', uri: EVENT_STREAM_PATH }, 1);
    const loopback = /^(127\.|\[::1\]$|localhost$)/.test(base.hostname);
    if (opts.credentials.basicOnLoopback && loopback) return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
    return undefined;
  }

  function connect(retriedAuth = false): void {
    if (stopped) return;
    const socket = new WebSocket(wsUrl, {
      headers: authorization ? { Authorization: authorization } : {},
      maxPayload: MAX_EVENT_MESSAGE_BYTES,
      handshakeTimeout: 10_000,
      ...(opts.agent ? { agent: opts.agent } : {}),
    });
    ws = socket;
    socket.on('unexpected-response', (_req, res) => {
      res.resume();
      // This attempt is over; its close event must not schedule a second reconnect.
      ws = undefined;
      socket.terminate();
      if (res.statusCode === 401 && !retriedAuth) {
        answer(res.headers['www-authenticate'])
          .then((header) => {
            if (header === undefined) return schedule('the camera offers no authentication this client can answer');
            authorization = header;
            connect(true);
          })
          .catch((err: unknown) => schedule(`no VAPIX credentials: ${(err as Error).message}`));
        return;
      }
      authorization = undefined;
      if (res.statusCode === 401) stats.authRefused += 1;
      const why = res.statusCode === 401 ? `the camera refused the credentials (401); ${opts.credentials.refusedHint}` : `the camera answered ${res.statusCode ?? 0}`;
      schedule(why);
    });
    socket.on('open', () => {
      openedAt = Date.now();
      refused = undefined;
      stats.sessions += 1;
      socket.send(configureMessage(opts.topicFilters));
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      const m = isBinary ? ({ kind: 'invalid', why: 'binary message' } as const) : parseEventStreamMessage(data.toString('utf8'));
      switch (m.kind) {
        case 'configured':
          stats.connected = true;
          log.info({ event: 'events.stream-up', filters: opts.topicFilters }, 'camera event stream configured');
          for (const w of configuredWaiters) w();
          configuredWaiters = [];
          return;
        case 'refused':
          log.error({ event: 'events.stream-refused', code: m.code, why: m.message }, `the camera refused the event filters: ${m.message}; check events.triggers[].topic`);
          socket.close();
          return;
        case 'invalid':
          stats.invalid += 1;
          log.warn({ event: 'events.invalid-message', why: m.why }, `ignored a camera event message: ${m.why}`);
          return;
        case 'event':
          try {
            opts.onEvent(m.event);
          } catch (err) {
            log.error({ event: 'events.handler-failed', err: (err as Error).message }, 'event handler failed');
          }
      }
    });
    socket.on('error', (err) => {
      log.debug({ event: 'events.stream-error', err: err.message }, 'event stream error');
    });
    socket.on('close', () => {
      if (ws !== socket) return;
      ws = undefined;
      stats.connected = false;
      schedule('connection closed');
    });
  }

  return {
    stats,
    start() {
      if (!stopped) return;
      stopped = false;
      connect();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      const socket = ws;
      ws = undefined;
      if (socket && socket.readyState !== WebSocket.CLOSED) {
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        socket.terminate();
        await closed;
      }
    },
    configured() {
      if (stats.connected) return Promise.resolve();
      return new Promise((resolve) => configuredWaiters.push(resolve));
    },
  };
}
