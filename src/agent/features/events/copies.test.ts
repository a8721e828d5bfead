import { describe, expect, it } from 'vitest';
import type { CameraEvent } from '../../../protocol/vapix/events.js';
import { createCopyFilter } from './copies.js';

/**
 * Axis sends one copy of a notification per topic filter it passes (recordings of AXIS OS 10-12
 * cameras, issue 19; filters as on developer.axis.com/vapix/network-video/event-streaming-over-websocket).
 */
const PORT = 'tns1:Device/tnsaxis:IO/Port';
const ev = (data: Record<string, string>, over: Partial<CameraEvent> = {}): CameraEvent => ({ topic: PORT, at: new Date('2026-12-07T10:00:00.000Z'), timeSource: 'camera', source: { port: '1' }, data, ...over });

describe('copy filter', () => {
  it('lets one of the copies through when two filters pass the event, and counts the rest', () => {
    const f = createCopyFilter(['tns1:Device//.', PORT]);
    expect([f.admit(ev({ state: '1' }), 0), f.admit(ev({ state: '1' }), 1)]).toEqual([true, false]);
    expect(f.swallowed).toBe(1);
    // The next change is an event again.
    expect([f.admit(ev({ state: '0' }), 5), f.admit(ev({ state: '0' }), 5)]).toEqual([true, false]);
  });
  it('swallows as many copies as filters pass the topic, no more', () => {
    const f = createCopyFilter(['tns1:Device//.', 'tns1:Device/tnsaxis:IO//', PORT]);
    expect([0, 0, 0, 0].map((t) => f.admit(ev({ state: '1' }), t))).toEqual([true, false, false, true]);
  });
  it('lets every event through when one filter passes it, even identical ones', () => {
    const f = createCopyFilter([PORT, 'tns1:VideoSource/MotionAlarm']);
    expect([f.admit(ev({ state: '1' }), 0), f.admit(ev({ state: '1' }), 0)]).toEqual([true, true]);
  });
  it('treats a copy that comes after the window as a new event', () => {
    const f = createCopyFilter(['tns1:Device//.', PORT], 2000);
    expect([f.admit(ev({ state: '1' }), 0), f.admit(ev({ state: '1' }), 2000)]).toEqual([true, true]);
  });
  it('tells copies of timestamp-less events by content, and events with other camera times apart', () => {
    const f = createCopyFilter(['tns1:Device//.', PORT]);
    const agentTime = (ms: number) => ev({ state: '1' }, { timeSource: 'agent', at: new Date(ms) });
    expect([f.admit(agentTime(1), 0), f.admit(agentTime(3), 2)]).toEqual([true, false]);
    const camera = (ms: number) => ev({ state: '1' }, { at: new Date(ms) });
    expect([f.admit(camera(10), 10), f.admit(camera(20), 11)]).toEqual([true, true]);
  });
});
