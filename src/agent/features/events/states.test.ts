import { describe, expect, it } from 'vitest';
import type { CameraEvent } from '../../../protocol/vapix/events.js';
import { isPropertyTopic } from '../../../protocol/vapix/event-declarations.js';
import { createStateTracker } from './states.js';

/**
 * Property (stateful) events report their current state right after a subscription (Axis, "Event
 * data streaming", stateful and stateless events: developer.axis.com/vapix/network-video/event-data-streaming;
 * which topics are properties: their declarations, isProperty="true").
 */
const MOTION = 'tns1:VideoSource/MotionAlarm';
const TAMPERING = 'tns1:VideoSource/tnsaxis:Tampering';
const ev = (topic: string, data: Record<string, string>, source: Record<string, string> = { VideoSourceConfigurationToken: '0' }): CameraEvent => ({
  topic,
  at: new Date(),
  timeSource: 'camera',
  source,
  data,
});

describe('state tracker', () => {
  it('records the state reported at subscription, and the later changes are events', () => {
    const s = createStateTracker(isPropertyTopic);
    s.newSession(0);
    expect(s.classify(ev(MOTION, { State: '0' }), 0)).toBe('initial-state');
    expect(s.classify(ev(MOTION, { State: '1' }), 0)).toBe('event');
    expect(s.classify(ev(MOTION, { State: '0' }), 0)).toBe('event');
  });
  it('does not take ongoing motion across a reconnect for a new event; motion starting after it is one', () => {
    const s = createStateTracker(isPropertyTopic);
    s.newSession(0);
    s.classify(ev(MOTION, { State: '0' }), 0);
    expect(s.classify(ev(MOTION, { State: '1' }), 0)).toBe('event');
    s.newSession(0); // reconnect: the camera reports motion still on
    expect(s.classify(ev(MOTION, { State: '1' }), 0)).toBe('unchanged-state');
    expect(s.classify(ev(MOTION, { State: '0' }), 0)).toBe('event');
    expect(s.classify(ev(MOTION, { State: '1' }), 0)).toBe('event');
  });
  it('calls a reported state the agent did not know initial (it started while motion was on, or it began while the stream was down)', () => {
    const s = createStateTracker(isPropertyTopic);
    s.newSession(0);
    expect(s.classify(ev(MOTION, { State: '1' }), 0)).toBe('initial-state');
    s.classify(ev(MOTION, { State: '0' }), 0);
    s.newSession(0);
    expect(s.classify(ev(MOTION, { State: '1' }), 0)).toBe('initial-state');
  });
  it('keeps instances apart by source, and item order does not matter', () => {
    const s = createStateTracker(isPropertyTopic);
    s.newSession(0);
    const port = (n: string, state: string) => ev('tns1:Device/tnsaxis:IO/Port', { state, extra: 'x' }, { port: n });
    expect(s.classify(port('1', '0'), 0)).toBe('initial-state');
    expect(s.classify(port('2', '0'), 0)).toBe('initial-state');
    expect(s.classify(port('1', '1'), 0)).toBe('event');
    s.newSession(0);
    expect(s.classify({ ...port('1', '1'), data: { extra: 'x', state: '1' } }, 0)).toBe('unchanged-state');
  });
  it('calls an instance first seen well after configure an event: the camera did not report it at subscription', () => {
    const s = createStateTracker(isPropertyTopic, 2000);
    s.newSession(10_000);
    expect(s.classify(ev('tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile2', { active: '1' }, {}), 12_001)).toBe('event');
    s.newSession(20_000);
    expect(s.classify(ev('tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile2', { active: '1' }, {}), 20_050)).toBe('unchanged-state');
  });
  it('never holds back a stateless event, even right after configure', () => {
    const s = createStateTracker(isPropertyTopic);
    s.newSession(0);
    expect(s.classify(ev(TAMPERING, { tampering: '1' }), 0)).toBe('event');
    expect(s.classify(ev(TAMPERING, { tampering: '1' }), 0)).toBe('event');
  });
});

describe('event declarations', () => {
  it('marks Axis property topics and application instances, not stateless ones', () => {
    expect(isPropertyTopic(MOTION)).toBe(true);
    expect(isPropertyTopic('tns1:Device/tnsaxis:IO/Port')).toBe(true);
    expect(isPropertyTopic('tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile1')).toBe(true);
    expect(isPropertyTopic(TAMPERING)).toBe(false);
    expect(isPropertyTopic('tns1:Device/tnsaxis:IO')).toBe(false);
  });
});
