import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { DigestVerifier } from '../../protocol/digest.js';
import type { Logger } from '../../lib/log.js';
import { requestUrl } from '../../lib/request-target.js';
import { MAX_EVENT_MESSAGE_BYTES, notifyMessage, topicMatches, type CameraEvent } from '../../protocol/vapix/events.js';

/**
 * The camera simulator's VAPIX event stream (developer.axis.com, "Event streaming over WebSocket"):
 * `GET /vapix/ws-data-stream?sources=events` upgraded to a WebSocket after HTTP Digest, as any VAPIX
 * request; the client's `events:configure` with an `eventFilterList` of `topicFilter`s is answered
 * `{"apiVersion":"1.0","method":"events:configure","data":{}}` (an empty or malformed list with
 * Axis's error 2104), then each fired event that passes a filter goes out as `events:notify`.
 */
export interface CameraEventStream {
  /** Sends one event to every session whose filters pass it; returns how many sessions got it. */
  fire(event: CameraEvent): number;
  /** Drops every session abruptly (the camera rebooting, a network cut). */
  dropAll(): void;
  readonly sessions: number;
  close(): void;
}

interface Session {
  ws: WebSocket;
  filters: string[];
}

const CONFIGURE_ERROR = 2104;

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
  onFire?: (event: CameraEvent) => void,
): CameraEventStream {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_EVENT_MESSAGE_BYTES });
  const sessions = new Set<Session>();

  const onUpgrade = (verifier: DigestVerifier) => (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node's HTTP server hands an upgrading socket over without its error listener: a client that
    // resets after our refusal (ECONNRESET) would otherwise be an uncaught exception in devcloud.
    socket.on('error', () => socket.destroy());
    let url: URL;
    try {
      url = requestUrl(req.url);
    } catch {
      return refuse(socket, '400 Bad Request');
    }
    if (url.pathname !== '/vapix/ws-data-stream' || url.searchParams.get('sources') !== 'events') return refuse(socket, '404 Not Found');
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
      });
      log?.debug({ user: auth.username }, 'event stream session opened');
    });
  };
  for (const { server, verifier } of servers) server.on('upgrade', onUpgrade(verifier));

  return {
    fire(event) {
      onFire?.(event);
      const text = notifyMessage(event);
      let sent = 0;
      for (const s of sessions) {
        if (!s.filters.some((f) => topicMatches(f, event.topic))) continue;
        s.ws.send(text);
        sent += 1;
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
    close() {
      for (const s of sessions) s.ws.terminate();
      sessions.clear();
      wss.close();
    },
  };
}
