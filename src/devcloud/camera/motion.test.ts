import { describe, expect, it } from 'vitest';
import { MOTION_TIMEOUT_MS, createMotionState, motionBand, motionBox } from './motion.js';

const ev = (topic: string, State: string) => ({ topic, at: new Date(), source: {}, data: { State } });
const MOTION = 'tns1:VideoSource/MotionAlarm';

describe('motion state', () => {
  it('is active from a State "1" motion event until State "0"', () => {
    const m = createMotionState();
    expect(m.activeSince(Date.now())).toBeUndefined();
    m.observe(ev('tns1:Device/tnsaxis:IO/Port', '1'));
    expect(m.activeSince(Date.now())).toBeUndefined();
    m.observe(ev(MOTION, '1'));
    const since = m.activeSince(Date.now());
    expect(since).toBeDefined();
    m.observe(ev(MOTION, '1')); // still the same motion
    expect(m.activeSince(Date.now())).toBe(since);
    m.observe(ev(MOTION, '0'));
    expect(m.activeSince(Date.now())).toBeUndefined();
  });
  it('ends by itself when no new start comes within the timeout', () => {
    const m = createMotionState();
    m.observe(ev(MOTION, '1'));
    expect(m.activeSince(Date.now() + MOTION_TIMEOUT_MS - 100)).toBeDefined();
    expect(m.activeSince(Date.now() + MOTION_TIMEOUT_MS)).toBeUndefined();
  });
});

describe('motionBox', () => {
  it('moves across the frame inside the motion band', () => {
    const band = motionBand(320, 180);
    const lefts = [0, 1000, 2000, 3000].map((t) => {
      const b = motionBox(320, 180, t);
      expect(b.top).toBe(band.top);
      expect(b.top + b.height).toBeLessThanOrEqual(band.top + band.height);
      expect(b.left + b.width).toBeLessThanOrEqual(320);
      return b.left;
    });
    expect(new Set(lefts).size).toBe(4);
  });
});
