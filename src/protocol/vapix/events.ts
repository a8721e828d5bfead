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
/** Longer free-text values are cut here (the event is kept): a value is an ID, a state or a name. */
const MAX_ITEM_LENGTH = 256;
/**
 * A camera timestamp before this is a clock that was never set (AXIS OS starts at 1970 until NTP or
 * an operator sets it); no camera of ours was made earlier.
 */
export const EARLIEST_CAMERA_TIME = Date.UTC(2020, 0, 1);
const LATEST_CAMERA_TIME = Date.UTC(2200, 0, 1);

/** Where an event's time came from: the camera's `timestamp`, or the agent's receive time. */
export type EventTimeSource = 'camera' | 'agent';

export interface CameraEvent {
  topic: string;
  /** When the camera saw it: its `timestamp`, or when it was received if that is missing or not set. */
  at: Date;
  timeSource: EventTimeSource;
  /** Free text included (rule and profile names in any language): act only on what you validate. */
  source: Record<string, string>;
  data: Record<string, string>;
}

/** Why the receive time stands in for the camera's: Axis documents `timestamp` as optional. */
export type TimeFallback = 'missing' | 'clock-not-set' | 'not-a-time';

export type EventStreamMessage =
  | { kind: 'configured' }
  | { kind: 'refused'; code: number | undefined; message: string }
  | { kind: 'event'; event: CameraEvent; timeFallback?: TimeFallback }
  | { kind: 'invalid'; why: string };

export function configureMessage(topicFilters: readonly string[]): string {
  return JSON.stringify({ apiVersion: '1.0', method: 'events:configure', params: { eventFilterList: topicFilters.map((topicFilter) => ({ topicFilter })) } });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const PRINTABLE = /^[\x20-\x7e]*$/;

/** At most `max` code points (a cut never splits a surrogate pair). */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  return Array.from(text).slice(0, max).join('');
}

/**
 * A flat object of strings. Axis sends every value as a string, and some are free text an operator
 * typed (a rule or profile name, in any language): nothing in here drops the event. Values that are
 * numbers or booleans become strings, nested values are left out, long values are cut, items past
 * the 32nd are left out. Only the shape of the object itself is checked.
 */
function stringMap(v: unknown, what: string): Record<string, string> | string {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) return `${what} is not an object`;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let n = 0;
  for (const [k, value] of Object.entries(v)) {
    if (n === MAX_ITEMS) break;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue;
    out[cut(k, MAX_ITEM_LENGTH)] = cut(String(value), MAX_ITEM_LENGTH);
    n += 1;
  }
  return out;
}

/** The camera's time of a notification, or why the receive time stands in for it. */
function eventTime(timestamp: unknown, receivedAt: Date): { at: Date; timeSource: EventTimeSource; timeFallback?: TimeFallback } {
  if (timestamp === undefined || timestamp === null) return { at: receivedAt, timeSource: 'agent', timeFallback: 'missing' };
  // Axis sends milliseconds as a number; some firmware and clients use an ISO string.
  const ms = typeof timestamp === 'number' ? timestamp : typeof timestamp === 'string' && timestamp.length <= 40 ? Date.parse(timestamp) : Number.NaN;
  if (!Number.isFinite(ms) || ms >= LATEST_CAMERA_TIME) return { at: receivedAt, timeSource: 'agent', timeFallback: 'not-a-time' };
  if (ms < EARLIEST_CAMERA_TIME) return { at: receivedAt, timeSource: 'agent', timeFallback: 'clock-not-set' };
  return { at: new Date(ms), timeSource: 'camera' };
}

/**
 * Reads one text message from the event stream. `receivedAt` stands in for the event's time when the
 * camera sends none, or one from a clock that was never set.
 */
export function parseEventStreamMessage(text: string, receivedAt: Date = new Date()): EventStreamMessage {
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
  // The topic is what triggers act on, and it goes into object metadata as is: it must be plain.
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH || !PRINTABLE.test(topic)) {
    return { kind: 'invalid', why: 'notification.topic is not a printable string of at most 256 characters' };
  }
  if (message !== undefined && !isObject(message)) return { kind: 'invalid', why: 'notification.message is not an object' };
  const source = stringMap(message?.['source'], 'message.source');
  if (typeof source === 'string') return { kind: 'invalid', why: source };
  const data = stringMap(message?.['data'], 'message.data');
  if (typeof data === 'string') return { kind: 'invalid', why: data };
  const { timeFallback, ...time } = eventTime(timestamp, receivedAt);
  return { kind: 'event', event: { topic, ...time, source, data }, ...(timeFallback ? { timeFallback } : {}) };
}

/** A notification as a camera sends it (the simulator's side): without `at`, no `timestamp`. */
export interface CameraNotification {
  topic: string;
  at?: Date;
  source: Record<string, string>;
  data: Record<string, string>;
}

export function notifyMessage(n: CameraNotification): string {
  const notification = { topic: n.topic, ...(n.at ? { timestamp: n.at.getTime() } : {}), message: { source: n.source, key: {}, data: n.data } };
  return JSON.stringify({ apiVersion: '1.0', method: 'events:notify', params: { notification } });
}

/**
 * Whether an event topic passes a topic filter as the camera applies it (Axis, "Event streaming over
 * WebSocket" and "Event data streaming", topic filter section; ONVIF Core's ConcreteSet dialect):
 * - an exact topic: that topic only;
 * - `X//.`: X itself and every topic below it;
 * - `X//`: every topic below X, as in Axis's `tns1:Device/tnsaxis:IO//` example, not X itself;
 * - `//.` or `//` alone: every topic.
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter.endsWith('//.')) {
    const base = filter.slice(0, -3);
    return base === '' || topic === base || topic.startsWith(`${base}/`);
  }
  if (filter.endsWith('//')) {
    const base = filter.slice(0, -2);
    return base === '' || topic.startsWith(`${base}/`);
  }
  return topic === filter;
}
