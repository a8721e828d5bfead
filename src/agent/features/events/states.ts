import type { CameraEvent } from '../../../protocol/vapix/events.js';

/**
 * Tells a property (stateful) event's state report from a change. Right after `events:configure` a
 * camera reports the current state of every property instance the filters pass (Axis, "Event data
 * streaming": stateful events; recordings of AXIS OS 10-12 cameras): the first notification of an
 * instance (topic + source) in a session is that report. It is recorded as the instance's state and
 * is not an event: motion still going on across a reconnect must not fire again. Triggers that ask
 * for it (`onInitialState: true`) fire on a report whose state the agent did not know already (the
 * agent started while motion was on, or it began while the stream was down). Stateless events, and
 * every later notification of an instance, are events. So is the first notification of an instance
 * that comes later than `reportWindowMs` after configure: the camera did not report it at
 * subscription (a motion profile created since), so it is news.
 */
export type Occurrence = 'event' | 'initial-state' | 'unchanged-state';

export interface StateTracker {
  /** A new session is configured at `now` (ms): the next notification of each instance is its state report. */
  newSession(now: number): void;
  classify(event: CameraEvent, now: number): Occurrence;
}

/** Instances kept at most (a camera has a few dozen); the oldest known state is forgotten first. */
const MAX_INSTANCES = 1024;

function sortedJson(items: Record<string, string>): string {
  return JSON.stringify(Object.keys(items).sort().map((k) => [k, items[k]]));
}

export function createStateTracker(isProperty: (topic: string) => boolean, reportWindowMs = 2000): StateTracker {
  const known = new Map<string, string>();
  const reported = new Set<string>();
  let configuredAt = Number.NEGATIVE_INFINITY;
  return {
    newSession(now) {
      reported.clear();
      configuredAt = now;
    },
    classify(event, now) {
      if (!isProperty(event.topic)) return 'event';
      const key = `${event.topic}\n${sortedJson(event.source)}`;
      const state = sortedJson(event.data);
      const before = known.get(key);
      known.delete(key);
      known.set(key, state);
      if (known.size > MAX_INSTANCES) known.delete(known.keys().next().value as string);
      if (reported.has(key)) return 'event';
      reported.add(key);
      if (now - configuredAt > reportWindowMs) return 'event';
      return before === state ? 'unchanged-state' : 'initial-state';
    },
  };
}
