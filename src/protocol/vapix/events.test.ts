import { describe, expect, it } from 'vitest';
import { configureMessage, notifyMessage, parseEventStreamMessage, topicMatches } from './events.js';

/** Shapes as Axis documents them (developer.axis.com, "Event streaming over WebSocket"). */
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
    expect(m).toEqual({ kind: 'event', event: { topic: 'tns1:Device/tnsaxis:IO/VirtualInput', at: new Date(1737794941428), source: { port: '1' }, data: { active: '0' } } });
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
      '{"method":"events:notify","params":{"notification":{"topic":"a","timestamp":"soon","message":{}}}}',
      '{"method":"events:notify","params":{"notification":{"topic":"a","timestamp":1e300,"message":{}}}}',
      '{"method":"events:notify","params":{"notification":{"topic":"a","timestamp":1737794941428,"message":{"data":{"State":1}}}}}',
      '{"method":"events:notify","params":{"notification":{"topic":"a\\r\\nb","timestamp":1737794941428,"message":{}}}}',
      `{"method":"events:notify","params":{"notification":{"topic":"a","timestamp":1737794941428,"message":{"data":{"x":"${'y'.repeat(300)}"}}}}}`,
      '{"method":"events:notify","params":{"notification":{"topic":"a","timestamp":1737794941428,"message":{"data":[]}}}}',
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

describe('topicMatches', () => {
  it('matches exactly, or a subtree with //.', () => {
    expect(topicMatches('tns1:VideoSource/MotionAlarm', 'tns1:VideoSource/MotionAlarm')).toBe(true);
    expect(topicMatches('tns1:VideoSource/MotionAlarm', 'tns1:VideoSource/MotionAlarm/X')).toBe(false);
    expect(topicMatches('tns1:Device//.', 'tns1:Device/tnsaxis:IO/Port')).toBe(true);
    expect(topicMatches('tns1:Device//.', 'tns1:DeviceX')).toBe(false);
  });
});
