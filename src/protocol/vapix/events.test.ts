import { describe, expect, it } from 'vitest';
import { configureMessage, notifyMessage, parseEventStreamMessage, topicMatches } from './events.js';

/**
 * Shapes as Axis documents them (developer.axis.com/vapix/network-video/event-streaming-over-websocket;
 * `timestamp` is listed as optional there) and as real AXIS OS 10-12 cameras send them (issue 19:
 * no timestamp, 1970 from a clock never set, free-text names in any language). Topic filters as in
 * Axis's "Event data streaming" page (developer.axis.com/vapix/network-video/event-data-streaming,
 * "Event topic filter": `//.` for a topic and its children) and the WebSocket page's
 * `tns1:Device/tnsaxis:IO//` example.
 */
const NOTIFY = '{"apiVersion":"1.0","method":"events:notify","params":{"notification":{"topic":"tns1:Device/tnsaxis:IO/VirtualInput","timestamp":1737794941428,"message":{"source":{"port":"1"},"key":{},"data":{"active":"0"}}}}}';

describe('event stream messages', () => {
  it('builds events:configure with one topicFilter per filter', () => {
    expect(JSON.parse(configureMessage(['tns1:VideoSource/MotionAlarm']))).toEqual({
      apiVersion: '1.0',
      method: 'events:configure',
      params: { eventFilterList: [{ topicFilter: 'tns1:VideoSource/MotionAlarm' }] },
    });
  });
  it('reads the configure answer, its error, and a notification', () => {
    expect(parseEventStreamMessage('{"apiVersion":"1.0","method":"events:configure","data":{}}')).toEqual({ kind: 'configured' });
    expect(parseEventStreamMessage('{"apiVersion":"1.0","method":"events:configure","error":{"code":2104,"message":"Invalid event datasource payload: eventFilterList is empty"}}')).toEqual({
      kind: 'refused',
      code: 2104,
      message: 'Invalid event datasource payload: eventFilterList is empty',
    });
    const m = parseEventStreamMessage(NOTIFY);
    expect(m).toEqual({ kind: 'event', event: { topic: 'tns1:Device/tnsaxis:IO/VirtualInput', at: new Date(1737794941428), timeSource: 'camera', source: { port: '1' }, data: { active: '0' } } });
    if (m.kind === 'event') expect(parseEventStreamMessage(notifyMessage(m.event))).toEqual(m);
  });
  it('reports hostile messages as invalid and never throws', () => {
    const bad = [
      'not json',
      '[]',
      'null',
      'x'.repeat(70_000),
      '{"method":"events:notify"}',
      '{"method":"events:notify","params":{"notification":{"topic":5,"timestamp":1737794941428,"message":{}}}}',
      '{"method":"events:notify","params":{"notification":{"topic":"a\\r\\nb","timestamp":1737794941428,"message":{}}}}',
      '{"method":"events:notify","params":{"notification":{"topic":"a","timestamp":1737794941428,"message":{"data":[]}}}}',
      '{"method":"events:notify","params":{"notification":{"topic":"a","timestamp":1737794941428,"message":"x"}}}',
      '{"method":{"x":1}}',
    ];
    for (const text of bad) expect(parseEventStreamMessage(text).kind).toBe('invalid');
  });
  it('keeps __proto__ as a plain data item, not a prototype', () => {
    const m = parseEventStreamMessage('{"method":"events:notify","params":{"notification":{"topic":"a","timestamp":1737794941428,"message":{"data":{"__proto__":"1"}}}}}');
    expect(m.kind).toBe('event');
    if (m.kind === 'event') expect(Object.getPrototypeOf(m.event.data)).toBe(null);
  });
});

const notify = (notification: Record<string, unknown>) => JSON.stringify({ apiVersion: '1.0', method: 'events:notify', params: { notification } });
const RECEIVED = new Date('2026-12-07T10:00:00.000Z');

describe('event times', () => {
  it('takes the camera timestamp, in milliseconds or as an ISO string', () => {
    for (const timestamp of [1765101600123, '2025-12-07T10:00:00.123Z']) {
      const m = parseEventStreamMessage(notify({ topic: 'a', timestamp, message: {} }), RECEIVED);
      expect(m).toMatchObject({ kind: 'event', event: { at: new Date('2025-12-07T10:00:00.123Z'), timeSource: 'camera' } });
      expect(m).not.toHaveProperty('timeFallback');
    }
  });
  it('uses the receive time, marked agent, when the timestamp is missing (Axis: optional)', () => {
    expect(parseEventStreamMessage(notify({ topic: 'a', message: { data: { State: '1' } } }), RECEIVED)).toEqual({
      kind: 'event',
      event: { topic: 'a', at: RECEIVED, timeSource: 'agent', source: {}, data: { State: '1' } },
      timeFallback: 'missing',
    });
  });
  it('uses the receive time when the camera clock was never set (1970) or is before 2020', () => {
    for (const timestamp of [0, 86_400_123, Date.UTC(2019, 11, 31, 23, 59, 59)]) {
      expect(parseEventStreamMessage(notify({ topic: 'a', timestamp, message: {} }), RECEIVED)).toMatchObject({ kind: 'event', event: { at: RECEIVED, timeSource: 'agent' }, timeFallback: 'clock-not-set' });
    }
    expect(parseEventStreamMessage(notify({ topic: 'a', timestamp: Date.UTC(2020, 0, 1), message: {} }), RECEIVED)).toMatchObject({ event: { timeSource: 'camera' } });
  });
  it('uses the receive time for a timestamp that is not a time, and keeps the event', () => {
    for (const timestamp of ['soon', 1e300, { t: 1 }, -5, 'x'.repeat(50)]) {
      expect(parseEventStreamMessage(notify({ topic: 'a', timestamp, message: {} }), RECEIVED)).toMatchObject({ kind: 'event', event: { at: RECEIVED, timeSource: 'agent' } });
    }
  });
  it('sends no timestamp when the simulator is told so', () => {
    const text = notifyMessage({ topic: 'a', source: {}, data: {} });
    expect((JSON.parse(text) as { params: { notification: object } }).params.notification).not.toHaveProperty('timestamp');
  });
});

describe('free text in notifications', () => {
  it('keeps an event whose items carry names in Japanese and Swedish, control characters or odd types', () => {
    const data = { active: '1', RuleName: '玄関の動き検知', Profile: 'Rörelse vid grinden – Åby', note: 'a\r\nb', level: 3, on: true, nested: { x: 1 } };
    const m = parseEventStreamMessage(notify({ topic: 'tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile1', timestamp: 1765101600123, message: { source: {}, data } }), RECEIVED);
    expect(m).toMatchObject({
      kind: 'event',
      event: { data: { active: '1', RuleName: '玄関の動き検知', Profile: 'Rörelse vid grinden – Åby', note: 'a\r\nb', level: '3', on: 'true' } },
    });
    if (m.kind === 'event') expect(m.event.data).not.toHaveProperty('nested');
  });
  it('cuts a very long value and leaves out items past the 32nd, keeping the event', () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v']));
    const m = parseEventStreamMessage(notify({ topic: 'a', timestamp: 1765101600123, message: { data: { ...many, long: 'å'.repeat(1000) } } }), RECEIVED);
    expect(m.kind).toBe('event');
    if (m.kind === 'event') {
      expect(Object.keys(m.event.data)).toHaveLength(32);
      expect(m.event.data['k0']).toBe('v');
    }
    const one = parseEventStreamMessage(notify({ topic: 'a', timestamp: 1765101600123, message: { data: { long: '😀'.repeat(300) } } }), RECEIVED);
    if (one.kind === 'event') expect(Array.from(one.event.data['long'] ?? '')).toHaveLength(256);
  });
  it('still refuses a topic that is not plain text: triggers act on it and it goes into metadata as is', () => {
    expect(parseEventStreamMessage(notify({ topic: 'tns1:動き', timestamp: 1765101600123, message: {} })).kind).toBe('invalid');
  });
});

describe('topicMatches', () => {
  it('matches the //. form on X and everything below, the // form below X only, // and //. alone everything', () => {
    expect(topicMatches('tns1:Device/tnsaxis:IO//.', 'tns1:Device/tnsaxis:IO')).toBe(true);
    expect(topicMatches('tns1:Device/tnsaxis:IO//.', 'tns1:Device/tnsaxis:IO/Port')).toBe(true);
    expect(topicMatches('tns1:Device/tnsaxis:IO//', 'tns1:Device/tnsaxis:IO/Port')).toBe(true);
    expect(topicMatches('tns1:Device/tnsaxis:IO//', 'tns1:Device/tnsaxis:IO/VirtualInput')).toBe(true);
    expect(topicMatches('tns1:Device/tnsaxis:IO//', 'tns1:Device/tnsaxis:IO')).toBe(false);
    expect(topicMatches('tns1:Device/tnsaxis:IO//', 'tns1:Device/tnsaxis:IOX/Port')).toBe(false);
    expect(topicMatches('tns1:Device/tnsaxis:IO//', 'tns1:Device/tnsaxis:Sensor/PIR')).toBe(false);
    expect(topicMatches('//.', 'tns1:VideoSource/MotionAlarm')).toBe(true);
    expect(topicMatches('//', 'tns1:VideoSource/MotionAlarm')).toBe(true);
  });
  it('matches exactly, or a subtree with //.', () => {
    expect(topicMatches('tns1:VideoSource/MotionAlarm', 'tns1:VideoSource/MotionAlarm')).toBe(true);
    expect(topicMatches('tns1:VideoSource/MotionAlarm', 'tns1:VideoSource/MotionAlarm/X')).toBe(false);
    expect(topicMatches('tns1:Device//.', 'tns1:Device/tnsaxis:IO/Port')).toBe(true);
    expect(topicMatches('tns1:Device//.', 'tns1:DeviceX')).toBe(false);
  });
});
