import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { DigestVerifier } from '../../protocol/digest.js';
import type { Logger } from '../../lib/log.js';
import { requestUrl } from '../../lib/request-target.js';
import { MAX_EVENT_MESSAGE_BYTES, notifyMessage, topicMatches, type CameraNotification } from '../../protocol/vapix/events.js';
import { isPropertyTopic } from '../../protocol/vapix/event-declarations.js';

/**
 * The camera simulator's VAPIX event stream (developer.axis.com, "Event streaming over WebSocket"):
 * `GET /vapix/ws-data-stream?sources=events` upgraded to a WebSocket after HTTP Digest, as any VAPIX
 * request; the client's `events:configure` with an `eventFilterList` of `topicFilter`s is answered
 * `{"apiVersion":"1.0","method":"events:configure","data":{}}` (an empty or malformed list with
 * Axis's error 2104), then each fired event that passes a filter goes out as `events:notify`.
 *
 * As real cameras do (issue 19, from recordings of AXIS OS 10-12 devices):
 * - one copy of a notification per filter it passes: two overlapping filters, two copies;
 * - right after the configure answer, the current state of every property (stateful) event instance
 *   the filters pass, e.g. motion still active (Axis, "Event data streaming": stateful events);
 * - `timestamp` from the camera's clock, which may never have been set (1970), or none at all
 *   (Axis documents it as optional): `options.timestamps`;
 * - firmware without the API (AXIS OS 10 without `event-streaming-over-websocket` in API
 *   discovery) answers the upgrade 404: `options.enabled`.
 */
export interface CameraEventStreamOptions {
  /** false: old firmware, the WebSocket path answers 404. */
  enabled: boolean;
  /** false: notifications carry no `timestamp`. */
  timestamps: boolean;
}

export interface CameraEventStream {
  /**
   * Sends one event to every session, one copy per filter that passes it; returns how many sessions
   * got it. Without `at` it carries the camera clock's time. A property event's data is also kept as
   * its instance's current state, reported to every session that configures later.
   */
  fire(event: CameraNotification): number;
  readonly options: CameraEventStreamOptions;
  /** Drops every session abruptly (the camera rebooting, a network cut). */
  dropAll(): void;
  readonly sessions: number;
  /** WebSocket upgrade requests received, refused ones included (tests count retries). */
  readonly upgrades: number;
  close(): void;
}

interface Session {
  ws: WebSocket;
  filters: string[];
}

const CONFIGURE_ERROR = 2104;

const BOOT_STATES: readonly CameraNotification[] = [
  { topic: 'tns1:VideoSource/MotionAlarm', source: { VideoSourceConfigurationToken: '0' }, data: { State: '0' } },
  { topic: 'tns1:Device/tnsaxis:IO/Port', source: { port: '1' }, data: { state: '0' } },
  { topic: 'tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile1', source: {}, data: { active: '0' } },
];

function refuse(socket: Duplex, status: string, headers: Record<string, string | string[]> = {}): void {
  const lines = [`HTTP/1.1 ${status}`, 'Connection: close', 'Content-Length: 0'];
  for (const [name, value] of Object.entries(headers)) for (const v of [value].flat()) lines.push(`${name}: ${v}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n`);
}

function readFilters(text: string): string[] | undefined {
  try {
    const doc = JSON.parse(text) as { method?: unknown; params?: { eventFilterList?: unknown } };
    const list = doc.method === 'events:configure' ? doc.params?.eventFilterList : undefined;
    if (!Array.isArray(list) || list.length === 0) return undefined;
    const filters = list.map((f: unknown) => (typeof f === 'object' && f !== null ? (f as { topicFilter?: unknown }).topicFilter : undefined));
    return filters.every((f): f is string => typeof f === 'string' && f.length > 0) ? filters : undefined;
  } catch {
    return undefined;
  }
}

export function attachEventStream(
  servers: ReadonlyArray<{ server: Server; verifier: DigestVerifier }>,
  log?: Logger,
  /** Sees every fired event, whoever listens (the simulator's motion state). */
  onFire?: (event: CameraNotification) => void,
  /** The camera's clock (it may be off, or unset: 1970). */
  clock: () => Date = () => new Date(),
): CameraEventStream {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_EVENT_MESSAGE_BYTES });
  const sessions = new Set<Session>();
  let upgrades = 0;
  const options: CameraEventStreamOptions = { enabled: true, timestamps: true };
  /** Current state of each property event instance (topic + source), as last fired. */
  const states = new Map<string, CameraNotification>();
  const instance = (n: CameraNotification): string => JSON.stringify([n.topic, n.source]);
  // The instances a camera has from boot: its video source's motion alarm, its first input port and a motion detection profile, idle.
  for (const n of BOOT_STATES) states.set(instance(n), n);

  function stamped(event: CameraNotification): string {
    const { at, ...rest } = event;
    return notifyMessage(options.timestamps ? { ...rest, at: at ?? clock() } : rest);
  }

  /** One message per filter that passes the event (what Axis firmware does). */
  function copies(filters: readonly string[], topic: string): number {
    return filters.filter((f) => topicMatches(f, topic)).length;
  }

  const onUpgrade = (verifier: DigestVerifier) => (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node's HTTP server hands an upgrading socket over without its error listener: a client that
    // resets after our refusal (ECONNRESET) would otherwise be an uncaught exception in devcloud.
    socket.on('error', () => socket.destroy());
    upgrades += 1;
    let url: URL;
    try {
      url = requestUrl(req.url);
    } catch {
      return refuse(socket, '400 Bad Request');
    }
    if (!options.enabled || url.pathname !== '/vapix/ws-data-stream' || url.searchParams.get('sources') !== 'events') return refuse(socket, '404 Not Found');
    const auth = verifier.verify(req.headers.authorization, 'GET', req.url ?? '/');
    if (!auth.ok) return refuse(socket, '401 Unauthorized', { 'WWW-Authenticate': verifier.challenges(auth.stale) });
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session: Session = { ws, filters: [] };
      sessions.add(session);
      ws.on('close', () => sessions.delete(session));
      ws.on('error', () => sessions.delete(session));
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        const filters = isBinary ? undefined : readFilters(data.toString('utf8'));
        if (!filters) {
          ws.send(JSON.stringify({ apiVersion: '1.0', method: 'events:configure', error: { code: CONFIGURE_ERROR, message: 'Invalid event datasource payload: eventFilterList is empty' } }));
          return;
        }
        session.filters = filters;
        ws.send(JSON.stringify({ apiVersion: '1.0', method: 'events:configure', data: {} }));
        for (const state of states.values()) for (let i = copies(filters, state.topic); i > 0; i--) ws.send(stamped({ ...state, at: undefined }));
      });
      log?.debug({ user: auth.username }, 'event stream session opened');
    });
  };
  for (const { server, verifier } of servers) server.on('upgrade', onUpgrade(verifier));

  return {
    options,
    fire(fired) {
      // A camera always names the instance; an event fired without a source is from its first one.
      const boot = Object.keys(fired.source).length === 0 ? BOOT_STATES.find((b) => b.topic === fired.topic) : undefined;
      const event = boot ? { ...fired, source: boot.source } : fired;
      onFire?.(event);
      if (isPropertyTopic(event.topic)) states.set(instance(event), event);
      const text = stamped(event);
      let sent = 0;
      for (const s of sessions) {
        const n = copies(s.filters, event.topic);
        for (let i = 0; i < n; i++) s.ws.send(text);
        if (n > 0) sent += 1;
      }
      return sent;
    },
    dropAll() {
      for (const s of sessions) s.ws.terminate();
      sessions.clear();
    },
    get sessions() {
      return sessions.size;
    },
    get upgrades() {
      return upgrades;
    },
    close() {
      for (const s of sessions) s.ws.terminate();
      sessions.clear();
      wss.close();
    },
  };
}
