import { topicMatches, type CameraEvent } from '../../../protocol/vapix-events.js';

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
