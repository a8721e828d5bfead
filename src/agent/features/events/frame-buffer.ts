import type { Logger } from '../../../lib/log.js';

/**
 * The pre-event buffer (issue 13 item 4, docs/protocol.md "Pre-event frames"): the last frames the
 * camera saw, kept in memory so an event can also upload the moment itself, not only what the camera
 * shows once the event has reached the agent. Frames are sampled with VAPIX `jpg/image.cgi` at a low
 * rate (the camera offers no cheaper still-frame source to an app over HTTP; an MJPEG stream would
 * hold a connection and decode budget all the time). Bounded by count and by bytes: adding a frame
 * drops the oldest until both bounds hold, so memory never exceeds `maxBytes` of JPEG data.
 */
export interface BufferedFrame {
  jpeg: Buffer;
  /** When the frame was taken: the middle of the image.cgi round trip, by the agent's clock. */
  at: Date;
}

export interface FrameRing {
  add(frame: BufferedFrame): void;
  /** The frame whose capture time is nearest `at`, or undefined when empty or none within `maxDistanceMs`. */
  nearest(at: Date, maxDistanceMs: number): BufferedFrame | undefined;
  readonly size: number;
  readonly bytes: number;
}

export function createFrameRing(limits: { maxFrames: number; maxBytes: number }): FrameRing {
  const frames: BufferedFrame[] = [];
  let bytes = 0;
  return {
    add(frame) {
      if (frame.jpeg.length > limits.maxBytes || limits.maxFrames < 1) return;
      frames.push(frame);
      bytes += frame.jpeg.length;
      while (frames.length > limits.maxFrames || bytes > limits.maxBytes) {
        const oldest = frames.shift() as BufferedFrame;
        bytes -= oldest.jpeg.length;
      }
    },
    nearest(at, maxDistanceMs) {
      let best: BufferedFrame | undefined;
      for (const f of frames) {
        const d = Math.abs(f.at.getTime() - at.getTime());
        if (d <= maxDistanceMs && (!best || d < Math.abs(best.at.getTime() - at.getTime()))) best = f;
      }
      return best;
    },
    get size() {
      return frames.length;
    },
    get bytes() {
      return bytes;
    },
  };
}

export interface PreEventSettings {
  /** How many frames are kept; 0 turns the buffer off. */
  frames: number;
  fps: number;
  maxBytes: number;
  resolution: string;
}

/**
 * How far from the event a buffered frame may be and still count as its moment: the buffer's whole
 * span, at least 5 s (the event's time is the camera's clock, the frame's the agent's; both follow NTP).
 */
export function preEventWindowMs(settings: PreEventSettings): number {
  return Math.max(5000, (settings.frames * 1000) / settings.fps);
}

export interface FrameBuffer extends FrameRing {
  start(): void;
  stop(): Promise<void>;
}

/**
 * Samples frames into a ring at `fps`, one capture at a time (a slow camera lowers the rate rather
 * than piling up requests). A failing capture is logged once until one succeeds again; so is a frame
 * larger than the whole buffer, which could never be kept.
 */
export function createFrameBuffer(opts: {
  settings: PreEventSettings;
  /** One picture of at most `maxBytes` (the camera's reply is cut off there, not read whole first). */
  capture: (signal: AbortSignal, maxBytes: number) => Promise<Buffer>;
  log: Logger;
  now?: () => number;
}): FrameBuffer {
  const { settings, log } = opts;
  const now = opts.now ?? Date.now;
  const ring = createFrameRing({ maxFrames: settings.frames, maxBytes: settings.maxBytes });
  const periodMs = 1000 / settings.fps;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let failing = false;
  let ready = false;
  let stopped = false;

  async function sample(): Promise<void> {
    const started = now();
    try {
      const jpeg = await opts.capture(abort.signal, settings.maxBytes);
      if (jpeg.length > settings.maxBytes) {
        // The ring would silently refuse it: say why the buffer stays empty.
        throw new Error(`a pre-event frame of ${jpeg.length} bytes is larger than events.preBuffer.maxBytes (${settings.maxBytes}): lower events.preBuffer.resolution or raise maxBytes`);
      }
      ring.add({ jpeg, at: new Date((started + now()) / 2) });
      if (!ready) log.info({ event: 'events.prebuffer-ready', frames: settings.frames, fps: settings.fps, maxBytes: settings.maxBytes }, 'pre-event buffer: first frame captured');
      ready = true;
      if (failing) log.info({ event: 'events.prebuffer-resumed' }, 'pre-event frames are captured again');
      failing = false;
    } catch (err) {
      if (!failing && !stopped) log.warn({ event: 'events.prebuffer-failed', err: (err as Error).message }, `could not capture a pre-event frame: ${(err as Error).message}`);
      failing = true;
    }
    if (stopped) return;
    timer = setTimeout(tick, Math.max(0, periodMs - (now() - started)));
  }

  function tick(): void {
    timer = undefined;
    running = sample();
  }

  return {
    add: (frame) => ring.add(frame),
    nearest: (at, maxDistanceMs) => ring.nearest(at, maxDistanceMs),
    get size() {
      return ring.size;
    },
    get bytes() {
      return ring.bytes;
    },
    start() {
      if (settings.frames < 1 || stopped) return;
      tick();
    },
    async stop() {
      stopped = true;
      abort.abort();
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
