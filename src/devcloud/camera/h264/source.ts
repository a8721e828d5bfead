/**
 * The camera's live H.264 source: one encoder per stream format, ticking at the frame rate only
 * while someone listens (an RTSP session), shared by all listeners. A listener may ask for a
 * keyframe (a new session, or `Renew-Stream`); the next frame is then an IDR picture.
 */
import { sceneBackground } from '../jpeg.js';
import type { MotionBox } from '../motion.js';
import { FrameEncoder, type AccessUnit } from './encoder.js';
import { checkFormat, profileLevelId, type StreamFormat } from './parameter-sets.js';
import { pictureFromRgb } from './picture.js';

export type { AccessUnit } from './encoder.js';

export interface H264Source {
  readonly format: StreamFormat;
  readonly sps: Buffer;
  readonly pps: Buffer;
  /** RFC 6184 profile-level-id of the stream (hex). */
  readonly profileLevelId: string;
  /** Starts the frame clock on the first listener; the returned function unsubscribes. */
  subscribe(listener: (au: AccessUnit) => void): () => void;
  /** The next frame is an IDR picture (with SPS and PPS in front). */
  requestKeyframe(): void;
  readonly listeners: number;
}

export interface H264SourceOptions extends StreamFormat {
  /** Frames from one IDR to the next when nobody asks for one (Axis calls it GOV length). Default 2 s of frames. */
  gopFrames?: number;
  /**
   * The moving object in a picture of this format at a time, while motion is active (the simulator's
   * motion state: `motionBox(format.width, format.height, now - since)`).
   */
  objectAt?: (nowMs: number, format: StreamFormat) => MotionBox | undefined;
  now?: () => number;
}

export async function createH264Source(opts: H264SourceOptions): Promise<H264Source> {
  const format: StreamFormat = { width: opts.width, height: opts.height, fps: opts.fps };
  checkFormat(format);
  const gop = opts.gopFrames ?? 2 * format.fps;
  if (!Number.isInteger(gop) || gop < 1) throw new RangeError(`gopFrames ${gop}: must be a whole number of frames >= 1`);
  const now = opts.now ?? Date.now;
  const rgb = await sceneBackground(format.width, format.height);
  const encoder = new FrameEncoder(format, pictureFromRgb(rgb, format.width, format.height));
  const listeners = new Set<(au: AccessUnit) => void>();
  let timer: NodeJS.Timeout | undefined;
  let wantKeyframe = true;
  let sinceKeyframe = 0;
  let nextDue = 0;

  function tick(): void {
    const t = now();
    const au = encoder.encode(t, opts.objectAt?.(t, format), wantKeyframe || sinceKeyframe >= gop);
    wantKeyframe = false;
    sinceKeyframe = au.keyframe ? 1 : sinceKeyframe + 1;
    for (const l of [...listeners]) l(au);
    if (listeners.size === 0) {
      timer = undefined; // the last listener left during this frame
      return;
    }
    // Scheduled against the clock, not chained delays, so the rate does not drift by the encode time.
    nextDue += 1000 / format.fps;
    timer = setTimeout(tick, Math.max(0, nextDue - now()));
  }

  return {
    format,
    sps: encoder.sps,
    pps: encoder.pps,
    profileLevelId: profileLevelId(format),
    get listeners() {
      return listeners.size;
    },
    subscribe(listener) {
      listeners.add(listener);
      if (!timer) {
        wantKeyframe = true;
        nextDue = now();
        timer = setTimeout(tick, 0);
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && timer) {
          clearTimeout(timer);
          timer = undefined;
        }
      };
    },
    requestKeyframe() {
      wantKeyframe = true;
    },
  };
}

/**
 * One source per stream format, created on first use and shared by every session asking for that
 * format (a camera encodes each stream profile once, whoever watches).
 */
export function h264SourceProvider(opts: Omit<H264SourceOptions, keyof StreamFormat>): (format: StreamFormat) => Promise<H264Source> {
  const sources = new Map<string, Promise<H264Source>>();
  return (format) => {
    const key = `${format.width}x${format.height}@${format.fps}`;
    let s = sources.get(key);
    if (!s) {
      s = createH264Source({ ...opts, ...format });
      s.catch(() => sources.delete(key));
      sources.set(key, s);
    }
    return s;
  };
}
