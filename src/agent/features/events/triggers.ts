import { topicMatches, type CameraEvent } from '../../../protocol/vapix/events.js';

/**
 * Which camera events become event snapshots, and how often. A trigger is a topic filter plus an
 * optional condition on the event's data (`{"State": "1"}`: motion started, not ended), a cooldown,
 * and an optional resolution; a fleet-wide cap per minute keeps a flapping sensor from flooding the
 * uplink or the bucket. Everything dropped is counted by why.
 */
export interface Trigger {
  /** Part of the object key and metadata: 1-32 of [A-Za-z0-9_-]. */
  name: string;
  /** Topic filter as the camera applies it: exact, or ending in `//.` for a whole subtree. */
  topic: string;
  /** Every listed data item must have this value (string comparison, as Axis sends strings). */
  when?: Record<string, string>;
  cooldownSeconds: number;
  resolution?: string;
}

export function matchingTriggers(triggers: readonly Trigger[], event: CameraEvent): Trigger[] {
  return triggers.filter(
    (t) => topicMatches(t.topic, event.topic) && Object.entries(t.when ?? {}).every(([k, v]) => Object.hasOwn(event.data, k) && event.data[k] === v),
  );
}

export type Admission = 'admitted' | 'cooldown' | 'cap';

export interface EventGate {
  /** Admits one firing of `trigger` at `now` (ms), or says why it is dropped. */
  admit(trigger: Trigger, now: number): Admission;
  readonly dropped: { cooldown: number; cap: number };
}

export function createEventGate(capPerMinute: number): EventGate {
  const lastFired = new Map<string, number>();
  /** Times of admitted events in the last minute, oldest first. */
  const window: number[] = [];
  const dropped = { cooldown: 0, cap: 0 };
  return {
    dropped,
    admit(trigger, now) {
      const last = lastFired.get(trigger.name);
      if (last !== undefined && now - last < trigger.cooldownSeconds * 1000) {
        dropped.cooldown += 1;
        return 'cooldown';
      }
      while (window.length > 0 && now - (window[0] ?? 0) >= 60_000) window.shift();
      if (window.length >= capPerMinute) {
        dropped.cap += 1;
        return 'cap';
      }
      window.push(now);
      lastFired.set(trigger.name, now);
      return 'admitted';
    },
  };
}

const TRIGGER_KEYS = new Set(['name', 'topic', 'when', 'cooldownSeconds', 'resolution']);
const NAME = /^[A-Za-z0-9_-]{1,32}$/;
const RESOLUTION = /^[1-9]\d{1,4}x[1-9]\d{1,4}$/;
const TOPIC = /^[\x21-\x7e]{1,256}$/;

/** Checks `events.triggers`; returns the triggers or what is wrong with the first bad one. */
export function parseTriggers(v: unknown): Trigger[] | string {
  if (!Array.isArray(v)) return 'must be a list of triggers';
  const names = new Set<string>();
  const out: Trigger[] = [];
  for (const [i, raw] of (v as unknown[]).entries()) {
    const at = `trigger ${i + 1}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return `${at} must be an object {name, topic, when?, cooldownSeconds, resolution?}`;
    const t = raw as Record<string, unknown>;
    const extra = Object.keys(t).filter((k) => !TRIGGER_KEYS.has(k));
    if (extra.length > 0) return `${at} has unknown keys ${extra.map((k) => JSON.stringify(k)).join(', ')}: use name, topic, when, cooldownSeconds, resolution`;
    if (typeof t['name'] !== 'string' || !NAME.test(t['name'])) return `${at}: name must be 1-32 of A-Z a-z 0-9 _ - (it becomes part of the object key)`;
    if (names.has(t['name'])) return `${at}: name "${t['name']}" is used twice`;
    if (typeof t['topic'] !== 'string' || !TOPIC.test(t['topic'])) return `${at}: topic must be a VAPIX event topic such as "tns1:VideoSource/MotionAlarm"`;
    const cooldown = t['cooldownSeconds'];
    if (typeof cooldown !== 'number' || !Number.isInteger(cooldown) || cooldown < 0 || cooldown > 86_400) return `${at}: cooldownSeconds must be a whole number 0-86400`;
    const when = t['when'];
    if (when !== undefined && (typeof when !== 'object' || when === null || Array.isArray(when) || Object.values(when).some((x) => typeof x !== 'string'))) {
      return `${at}: when must be an object of strings, e.g. {"State": "1"}`;
    }
    const resolution = t['resolution'];
    if (resolution !== undefined && (typeof resolution !== 'string' || !RESOLUTION.test(resolution))) return `${at}: resolution must look like 1920x1080`;
    names.add(t['name']);
    out.push({
      name: t['name'],
      topic: t['topic'],
      cooldownSeconds: cooldown,
      ...(when !== undefined ? { when: { ...(when as Record<string, string>) } } : {}),
      ...(resolution !== undefined ? { resolution } : {}),
    });
  }
  return out;
}
