/**
 * VAPIX "Event streaming over WebSocket" (developer.axis.com/vapix/network-video/event-streaming-over-websocket,
 * API discovery id `event-streaming-over-websocket`): a JSON-RPC style session on
 * `ws(s)://{camera}/vapix/ws-data-stream?sources=events`. The client sends
 *   {"apiVersion":"1.0","method":"events:configure","params":{"eventFilterList":[{"topicFilter":"..."}]}}
 * the camera answers {"apiVersion":"1.0","method":"events:configure","data":{}} (or `"error":{code,message}`)
 * and then sends one message per event:
 *   {"apiVersion":"1.0","method":"events:notify","params":{"notification":{"topic":"tns1:VideoSource/MotionAlarm",
 *    "timestamp":1737794941428,"message":{"source":{...},"key":{},"data":{"State":"1"}}}}}
 * Everything here treats the camera's messages as untrusted: a message of the wrong shape or size is
 * reported as `invalid`, never thrown.
 */

export const EVENT_STREAM_PATH = '/vapix/ws-data-stream?sources=events';
/** Larger messages are refused unread by the client (ws maxPayload): an event is a few hundred bytes. */
export const MAX_EVENT_MESSAGE_BYTES = 64 * 1024;
const MAX_TOPIC_LENGTH = 256;
const MAX_ITEMS = 32;
const MAX_ITEM_LENGTH = 256;

export interface CameraEvent {
  topic: string;
  /** When the camera saw it (its `timestamp`, milliseconds since the epoch). */
  at: Date;
  source: Record<string, string>;
  data: Record<string, string>;
}

export type EventStreamMessage =
  | { kind: 'configured' }
  | { kind: 'refused'; code: number | undefined; message: string }
  | { kind: 'event'; event: CameraEvent }
  | { kind: 'invalid'; why: string };

export function configureMessage(topicFilters: readonly string[]): string {
  return JSON.stringify({ apiVersion: '1.0', method: 'events:configure', params: { eventFilterList: topicFilters.map((topicFilter) => ({ topicFilter })) } });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const PRINTABLE = /^[\x20-\x7e]*$/;

/** A flat object of short printable strings (Axis sends every value as a string), or why not. */
function stringMap(v: unknown, what: string): Record<string, string> | string {
  if (v === undefined) return {};
  if (!isObject(v)) return `${what} is not an object`;
  const entries = Object.entries(v);
  if (entries.length > MAX_ITEMS) return `${what} has more than ${MAX_ITEMS} items`;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, value] of entries) {
    if (typeof value !== 'string') return `${what}.${k.slice(0, 40)} is not a string`;
    if (k.length > MAX_ITEM_LENGTH || value.length > MAX_ITEM_LENGTH || !PRINTABLE.test(k) || !PRINTABLE.test(value)) {
      return `${what} has an item that is too long or not printable ASCII`;
    }
    out[k] = value;
  }
  return out;
}

/** Reads one text message from the event stream. */
export function parseEventStreamMessage(text: string): EventStreamMessage {
  if (text.length > MAX_EVENT_MESSAGE_BYTES) return { kind: 'invalid', why: `message of ${text.length} characters is larger than ${MAX_EVENT_MESSAGE_BYTES}` };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { kind: 'invalid', why: 'message is not JSON' };
  }
  if (!isObject(doc)) return { kind: 'invalid', why: 'message is not a JSON object' };
  const { method } = doc;
  if (method === 'events:configure') {
    const error = doc['error'];
    if (error === undefined) return { kind: 'configured' };
    const e = isObject(error) ? error : {};
    const code = typeof e['code'] === 'number' ? e['code'] : undefined;
    const message = typeof e['message'] === 'string' ? e['message'].slice(0, 200) : 'no message';
    return { kind: 'refused', code, message };
  }
  if (method !== 'events:notify') return { kind: 'invalid', why: `unknown method ${typeof method === 'string' ? JSON.stringify(method.slice(0, 40)) : typeof method}` };
  const params = doc['params'];
  const n = isObject(params) ? params['notification'] : undefined;
  if (!isObject(n)) return { kind: 'invalid', why: 'events:notify without params.notification' };
  const { topic, timestamp, message } = n;
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH || !PRINTABLE.test(topic)) {
    return { kind: 'invalid', why: 'notification.topic is not a printable string of at most 256 characters' };
  }
  // Axis sends milliseconds as a number; be lenient about an ISO string, strict about the range.
  const ms = typeof timestamp === 'number' ? timestamp : typeof timestamp === 'string' && timestamp.length <= 40 ? Date.parse(timestamp) : Number.NaN;
  if (!Number.isFinite(ms) || ms < Date.UTC(2000, 0, 1) || ms > Date.UTC(2200, 0, 1)) return { kind: 'invalid', why: 'notification.timestamp is not a time' };
  if (!isObject(message)) return { kind: 'invalid', why: 'notification.message is not an object' };
  const source = stringMap(message['source'], 'message.source');
  if (typeof source === 'string') return { kind: 'invalid', why: source };
  const data = stringMap(message['data'], 'message.data');
  if (typeof data === 'string') return { kind: 'invalid', why: data };
  return { kind: 'event', event: { topic, at: new Date(ms), source, data } };
}

export function notifyMessage(event: CameraEvent): string {
  return JSON.stringify({
    apiVersion: '1.0',
    method: 'events:notify',
    params: { notification: { topic: event.topic, timestamp: event.at.getTime(), message: { source: event.source, key: {}, data: event.data } } },
  });
}

/**
 * Whether an event topic passes a topic filter as the camera applies it: the exact topic, or a filter
 * ending in `//.` (ONVIF's "this topic and everything below it").
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter.endsWith('//.')) {
    const base = filter.slice(0, -3);
    return topic === base || topic.startsWith(`${base}/`);
  }
  return topic === filter;
}
