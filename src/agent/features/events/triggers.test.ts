import { describe, expect, it } from 'vitest';
import { createEventGate, matchingTriggers, type Trigger } from './triggers.js';

const MOTION: Trigger = { name: 'motion', topic: 'tns1:VideoSource/MotionAlarm', when: { State: '1' }, cooldownSeconds: 10 };
const INPUT: Trigger = { name: 'input', topic: 'tns1:Device/tnsaxis:IO//.', cooldownSeconds: 0 };
const ev = (topic: string, data: Record<string, string>) => ({ topic, at: new Date(0), source: {}, data });

describe('matchingTriggers', () => {
  it('matches the topic and the data condition', () => {
    expect(matchingTriggers([MOTION, INPUT], ev('tns1:VideoSource/MotionAlarm', { State: '1' }))).toEqual([MOTION]);
    expect(matchingTriggers([MOTION], ev('tns1:VideoSource/MotionAlarm', { State: '0' }))).toEqual([]);
    expect(matchingTriggers([MOTION], ev('tns1:VideoSource/MotionAlarmX', { State: '1' }))).toEqual([]);
    expect(matchingTriggers([INPUT], ev('tns1:Device/tnsaxis:IO/VirtualInput', { active: '1' }))).toEqual([INPUT]);
    expect(matchingTriggers([INPUT], ev('tns1:Device/tnsaxis:IOX', {}))).toEqual([]);
  });
  it('does not match a condition through the prototype', () => {
    const t: Trigger = { ...MOTION, when: { toString: 'x' } };
    expect(matchingTriggers([t], ev(MOTION.topic, {}))).toEqual([]);
  });
});

describe('event gate', () => {
  it('drops a trigger within its cooldown and counts it', () => {
    const gate = createEventGate(100);
    expect(gate.admit(MOTION, 0)).toBe('admitted');
    expect(gate.admit(MOTION, 9_999)).toBe('cooldown');
    expect(gate.admit(MOTION, 10_000)).toBe('admitted');
    expect(gate.dropped).toEqual({ cooldown: 1, cap: 0 });
  });
  it('caps admitted events per minute across triggers and counts the rest', () => {
    const gate = createEventGate(3);
    const results = [0, 1, 2, 3, 4].map((i) => gate.admit({ ...INPUT, name: `t${i}` }, i * 1000));
    expect(results).toEqual(['admitted', 'admitted', 'admitted', 'cap', 'cap']);
    expect(gate.admit(INPUT, 60_000)).toBe('admitted');
    expect(gate.dropped).toEqual({ cooldown: 0, cap: 2 });
  });
});
