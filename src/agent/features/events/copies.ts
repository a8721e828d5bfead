import { topicMatches, type CameraEvent } from '../../../protocol/vapix/events.js';

/**
 * Axis cameras send one copy of a notification per configured topic filter it passes (recordings of
 * AXIS OS 10-12 cameras, issue 19): triggers `tns1:Device//.` and `tns1:Device/tnsaxis:IO/Port` get
 * two identical messages for one input change. This lets the first copy through and swallows the
 * copies the filters explain, when they come within `windowMs` (the camera sends them back to back);
 * a copy that never arrives stops nothing after the window, and a real repeat of the same event
 * after it is an event again.
 */
export interface CopyFilter {
  /** True for an event to act on, false for a copy of one just let through. */
  admit(event: CameraEvent, now: number): boolean;
  readonly swallowed: number;
}

interface Pending {
  left: number;
  until: number;
}

const MAX_PENDING = 256;

/** Same topic, data and source, and the same camera time when the camera sent one. */
function fingerprint(event: CameraEvent): string {
  return JSON.stringify([event.topic, event.timeSource === 'camera' ? event.at.getTime() : null, event.source, event.data]);
}

export function createCopyFilter(filters: readonly string[], windowMs = 2000): CopyFilter {
  const pending = new Map<string, Pending>();
  let swallowed = 0;
  return {
    get swallowed() {
      return swallowed;
    },
    admit(event, now) {
      for (const [k, p] of pending) if (p.until <= now) pending.delete(k);
      const key = fingerprint(event);
      const p = pending.get(key);
      if (p && p.left > 0) {
        p.left -= 1;
        if (p.left === 0) pending.delete(key);
        swallowed += 1;
        return false;
      }
      const copies = filters.filter((f) => topicMatches(f, event.topic)).length;
      if (copies > 1 && pending.size < MAX_PENDING) pending.set(key, { left: copies - 1, until: now + windowMs });
      return true;
    },
  };
}
