import { describe, expect, it } from 'vitest';
import { createEventGate, matchingTriggers, parseTriggers, type Trigger } from './triggers.js';

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
  it('matches the X// form Axis documents (tns1:Device/tnsaxis:IO//), each trigger once', () => {
    const io: Trigger = { name: 'io', topic: 'tns1:Device/tnsaxis:IO//', cooldownSeconds: 0 };
    expect(matchingTriggers([io, INPUT], ev('tns1:Device/tnsaxis:IO/Port', { state: '1' }))).toEqual([io, INPUT]);
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

describe('parseTriggers (events.triggers)', () => {
  it('accepts the documented shape', () => {
    expect(parseTriggers([{ name: 'motion', topic: 'tns1:VideoSource/MotionAlarm', when: { State: '1' }, cooldownSeconds: 10, resolution: '640x480' }])).toEqual([
      { name: 'motion', topic: 'tns1:VideoSource/MotionAlarm', when: { State: '1' }, cooldownSeconds: 10, resolution: '640x480' },
    ]);
    expect(parseTriggers([])).toEqual([]);
  });
  it('names the trigger and what is wrong with it', () => {
    const ok = { name: 'm', topic: 't', cooldownSeconds: 0 };
    expect(parseTriggers({})).toBe('must be a list of triggers');
    expect(parseTriggers([ok, { ...ok, name: '../x' }])).toMatch(/^trigger 2: name must be 1-32/);
    expect(parseTriggers([ok, ok])).toMatch(/name "m" is used twice/);
    expect(parseTriggers([{ ...ok, topic: 'has space' }])).toMatch(/topic must be a VAPIX event topic/);
    expect(parseTriggers([{ ...ok, cooldownSeconds: -1 }])).toMatch(/cooldownSeconds must be a whole number/);
    expect(parseTriggers([{ ...ok, when: { State: 1 } }])).toMatch(/when must be an object of strings/);
    expect(parseTriggers([{ ...ok, resolution: 'big' }])).toMatch(/resolution must look like 1920x1080/);
    expect(parseTriggers([{ ...ok, topc: 'x' }])).toMatch(/unknown keys "topc"/);
    expect(parseTriggers([{ ...ok, onInitialState: 'yes' }])).toMatch(/onInitialState must be true or false/);
  });
  it('accepts onInitialState and Axis topic filter forms', () => {
    expect(parseTriggers([{ name: 'io', topic: 'tns1:Device/tnsaxis:IO//', cooldownSeconds: 0, onInitialState: true }])).toEqual([
      { name: 'io', topic: 'tns1:Device/tnsaxis:IO//', cooldownSeconds: 0, onInitialState: true },
    ]);
  });
});
