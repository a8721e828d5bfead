import type { Agent } from 'node:http';
import WebSocket from 'ws';
import { digestAuthorization, parseDigestChallenges, pickChallenge, type DigestCredentials } from '../../../protocol/digest.js';
import type { VapixCredentialSource } from '../../../protocol/vapix/auth.js';
import { EVENT_STREAM_PATH, MAX_EVENT_MESSAGE_BYTES, configureMessage, parseEventStreamMessage, type CameraEvent, type TimeFallback } from '../../../protocol/vapix/events.js';
import { EVENT_STREAMING_API, hasApi, type ApiListResult } from '../../../protocol/vapix/discovery.js';
import { createCopyFilter } from './copies.js';
import { Backoff } from '../../backoff.js';
import type { Logger } from '../../../lib/log.js';

/**
 * The agent's end of the camera's VAPIX event stream: one WebSocket session, authenticated on the
 * upgrade request with HTTP Digest like any VAPIX call (the same credentials the snapshots use, the
 * keyless service account included), configured with the triggers' topic filters, and reconnected
 * with backoff (full jitter) whenever it drops. Hostile messages are counted and logged, never thrown.
 *
 * Before each connection it asks the camera's API discovery (once per connection): firmware without
 * `event-streaming-over-websocket` answers the WebSocket path 404 for ever, so the stream reports
 * `unsupported by this firmware` and asks again only after a day (or when the agent, which runs on
 * the camera, starts again with it). The copies a camera sends per matching filter are let through
 * once (copies.ts).
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
  /** The camera's API list (protocol/vapix/discovery.ts); without it the stream is tried as is. */
  discover?: () => Promise<ApiListResult>;
  /** Each session configured (a new subscription: state reports follow). */
  onConfigured?: () => void;
  /** The stream's state changed (stats.state). */
  onStateChange?: (state: EventStreamState) => void;
  /** How long an unsupported firmware is left alone before it is asked again; default one day. */
  unsupportedRetryMs?: number;
}

/** Why the stream is not delivering events right now, or that it is. */
export type EventStreamState = 'starting' | 'connected' | 'reconnecting' | typeof UNSUPPORTED;
export const UNSUPPORTED = 'unsupported by this firmware';

export interface EventStream {
  start(): void;
  stop(): Promise<void>;
  readonly stats: { sessions: number; invalid: number; connected: boolean; authRefused: number; state: EventStreamState; copiesSwallowed: number };
  /** Resolves when the next session is configured (tests, start-up). */
  configured(): Promise<void>;
}

const HEALTHY_MS = 30_000;
const DAY_MS = 24 * 60 * 60 * 1000;

const TIME_FALLBACK_WARNING: Record<TimeFallback, string> = {
  'clock-not-set':
    "the camera's clock is not set (its events carry times before 2020): event times are the agent's receive time until it is; set an NTP server on the camera (cloudcam setup ntp, or System > Date and time)",
  missing: 'the camera sends events without a timestamp: event times are the receive time (x-amz-meta-event-time-source: agent)',
  'not-a-time': 'the camera sent an event time that is not a time: event times are the receive time until it sends valid ones',
};

export function createEventStream(opts: EventStreamOptions): EventStream {
  const base = new URL(opts.baseUrl);
  const wsUrl = `${base.protocol === 'https:' ? 'wss:' : 'ws:'}//${base.host}${EVENT_STREAM_PATH}`;
  const backoff = new Backoff(opts.backoff ?? { minMs: 500, maxMs: 60_000 });
  const copies = createCopyFilter(opts.topicFilters);
  const stats = {
    sessions: 0,
    invalid: 0,
    connected: false,
    authRefused: 0,
    state: 'starting' as EventStreamState,
    /** Copies of notifications dropped: one per extra filter that passed them. */
    get copiesSwallowed() {
      return copies.swallowed;
    },
  };
  function setState(state: EventStreamState): void {
    if (stats.state === state) return;
    stats.state = state;
    opts.onStateChange?.(state);
  }
  /** Each kind of time fallback is warned about once per run, not per event. */
  const warned = new Set<TimeFallback>();
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
    setState('reconnecting');
    log.warn({ event: 'events.stream-down', why, retryMs: delay }, `camera event stream down (${why}); reconnecting in ${delay} ms`);
    timer = setTimeout(() => {
      timer = undefined;
      open();
    }, delay);
  }

  /** Discovery first (once per connection), then the WebSocket. */
  function open(): void {
    if (stopped) return;
    if (!opts.discover) return connect();
    opts
      .discover()
      .then((apis) => {
        if (stopped) return;
        // A reply we cannot read is not proof the API is missing: try the stream, as before discovery.
        if (hasApi(apis, EVENT_STREAMING_API) || (!apis.ok && !apis.missing)) return connect();
        unsupported(apis.ok ? `${EVENT_STREAMING_API} is not in the camera's API discovery list` : apis.why);
      })
      .catch((err: unknown) => schedule(`API discovery failed: ${(err as Error).message}`));
  }

  function unsupported(why: string): void {
    setState(UNSUPPORTED);
    const retryMs = opts.unsupportedRetryMs ?? DAY_MS;
    log.warn(
      { event: 'events.unsupported', why, retryMs },
      `event snapshots are off: the camera's firmware has no event streaming over WebSocket (${why}); upgrade AXIS OS to 11 or later. Asking again in ${Math.round(retryMs / 3_600_000)} h or when the agent restarts`,
    );
    timer = setTimeout(() => {
      timer = undefined;
      open();
    }, retryMs);
    timer.unref();
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
      const m = isBinary ? ({ kind: 'invalid', why: 'binary message' } as const) : parseEventStreamMessage(data.toString('utf8'), new Date());
      switch (m.kind) {
        case 'configured':
          stats.connected = true;
          setState('connected');
          opts.onConfigured?.();
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
          if (m.timeFallback && !warned.has(m.timeFallback)) {
            warned.add(m.timeFallback);
            log.warn({ event: 'events.time-fallback', why: m.timeFallback }, TIME_FALLBACK_WARNING[m.timeFallback]);
          }
          if (!copies.admit(m.event, Date.now())) return;
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
      open();
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
