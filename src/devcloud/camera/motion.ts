import type { CameraEvent } from '../../protocol/vapix/events.js';

/**
 * What the camera simulator "sees" while motion is active: a fired `tns1:VideoSource/MotionAlarm`
 * with `State: "1"` starts it, `State: "0"` or `timeoutMs` without a new start ends it. While active,
 * frames show a moving object (motionBox), so an event picture visibly differs from an idle one.
 */
export const MOTION_TOPIC = 'tns1:VideoSource/MotionAlarm';
export const MOTION_TIMEOUT_MS = 10_000;

export interface MotionBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface MotionState {
  observe(event: CameraEvent): void;
  /** Since when motion is active at `now` (ms), or undefined when idle. */
  activeSince(now: number): number | undefined;
}

export function createMotionState(timeoutMs = MOTION_TIMEOUT_MS): MotionState {
  let since: number | undefined;
  let lastStart = 0;
  return {
    observe(event) {
      if (event.topic !== MOTION_TOPIC) return;
      if (event.data['State'] === '1') {
        lastStart = Date.now();
        since ??= lastStart;
      } else if (event.data['State'] === '0') {
        since = undefined;
      }
    },
    activeSince(now) {
      if (since !== undefined && now - lastStart >= timeoutMs) since = undefined;
      return since;
    },
  };
}

/** How long the object takes to cross the frame once. */
const CROSSING_MS = 4000;

/**
 * The object's rectangle in a `width`x`height` frame, `elapsedMs` into the motion: a box a fifth of
 * the frame wide on the road band (vertical 65%-90%), moving left to right and starting over.
 */
export function motionBox(width: number, height: number, elapsedMs: number): MotionBox {
  const boxW = Math.max(4, Math.round(width / 5));
  const boxH = Math.max(4, Math.round(height / 4));
  const phase = (((elapsedMs % CROSSING_MS) + CROSSING_MS) % CROSSING_MS) / CROSSING_MS;
  return { left: Math.round(phase * (width - boxW)), top: Math.round(height * 0.65), width: boxW, height: Math.min(boxH, height - Math.round(height * 0.65)) };
}

/** The band every motionBox lies in, whatever its phase: where a test looks for the object. */
export function motionBand(width: number, height: number): MotionBox {
  const top = Math.round(height * 0.65);
  return { left: 0, top, width, height: Math.min(Math.max(4, Math.round(height / 4)), height - top) };
}
