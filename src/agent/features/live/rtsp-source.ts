/**
 * The one RTSP session with the camera that every viewer shares: opened when the first viewer needs
 * it, its packets fanned out to every subscriber, reopened (with a growing delay) when the camera
 * ends it while viewers remain, closed (TEARDOWN) when asked. Keyframe requests from all viewers are
 * merged to at most one SET_PARAMETER Renew-Stream a second. Nothing the camera does throws out of
 * here: failures reach `onProblem` as words an operator can act on.
 */
import { openRtspStream, type RtspStream } from '../../../protocol/rtsp/session.js';
import type { RtpPacket } from '../../../protocol/rtsp/rtp.js';
import type { RtspCredentialSource } from '../../../protocol/rtsp/connection.js';
import type { H264Track } from '../../../protocol/rtsp/sdp.js';

export interface RtspSourceOptions {
  url: string;
  credentials: RtspCredentialSource;
  basicOnLoopback: boolean;
  /** Why the stream failed or ended (never a URL with credentials: the URL has none). */
  onProblem(why: string): void;
  onOpen?(track: H264Track): void;
  /** Tests shorten these. */
  keyframeIntervalMs?: number;
  reopenDelaysMs?: readonly number[];
}

export interface RtspSource {
  /** The camera's track once open (opens the session if it is not). */
  open(): Promise<H264Track>;
  subscribe(onRtp: (packet: RtpPacket) => void): () => void;
  /** At most one Renew-Stream per keyframeIntervalMs; requests in between are merged. */
  requestKeyframe(): void;
  readonly isOpen: boolean;
  readonly stats: { opens: number; packets: number };
  close(): Promise<void>;
}

const DEFAULT_REOPEN_DELAYS_MS = [1000, 2000, 5000, 10_000, 30_000];

export function createRtspSource(opts: RtspSourceOptions): RtspSource {
  const subscribers = new Set<(packet: RtpPacket) => void>();
  const stats = { opens: 0, packets: 0 };
  const keyframeIntervalMs = opts.keyframeIntervalMs ?? 1000;
  const delays = opts.reopenDelaysMs ?? DEFAULT_REOPEN_DELAYS_MS;
  let stream: RtspStream | undefined;
  let opening: Promise<H264Track> | undefined;
  let closed = false;
  let failures = 0;
  let reopenTimer: NodeJS.Timeout | undefined;
  let lastKeyframeAt = 0;
  let keyframeTimer: NodeJS.Timeout | undefined;

  const fanOut = (packet: RtpPacket): void => {
    stats.packets++;
    failures = 0;
    for (const s of subscribers) {
      try {
        s(packet);
      } catch {
        // One viewer's failure is its own.
      }
    }
  };

  function open(): Promise<H264Track> {
    if (stream) return Promise.resolve(stream.track);
    if (closed) return Promise.reject(new Error('the camera stream is closed'));
    opening ??= openRtspStream({ url: opts.url, credentials: opts.credentials, basicOnLoopback: opts.basicOnLoopback, onRtp: fanOut })
      .then((s) => {
        if (closed) {
          void s.close();
          throw new Error('the camera stream is closed');
        }
        stream = s;
        stats.opens++;
        opts.onOpen?.(s.track);
        void s.ended.then((why) => {
          if (stream !== s) return;
          stream = undefined;
          if (closed || why === undefined) return;
          opts.onProblem(`the camera's RTSP stream ended: ${why.message}`);
          scheduleReopen();
        });
        return s.track;
      })
      .finally(() => {
        opening = undefined;
      });
    return opening;
  }

  function scheduleReopen(): void {
    if (closed || subscribers.size === 0 || reopenTimer) return;
    const delay = delays[Math.min(failures, delays.length - 1)] ?? 30_000;
    failures++;
    reopenTimer = setTimeout(() => {
      reopenTimer = undefined;
      if (closed || subscribers.size === 0) return;
      open().then(
        () => requestKeyframe(),
        (err: unknown) => {
          opts.onProblem(`cannot open the camera's RTSP stream: ${(err as Error).message}`);
          scheduleReopen();
        },
      );
    }, delay);
    reopenTimer.unref();
  }

  function requestKeyframe(): void {
    if (!stream || keyframeTimer) return;
    const wait = lastKeyframeAt + keyframeIntervalMs - Date.now();
    const send = (): void => {
      keyframeTimer = undefined;
      lastKeyframeAt = Date.now();
      stream?.requestKeyframe().catch((err: unknown) => opts.onProblem(`the camera refused a keyframe request: ${(err as Error).message}`));
    };
    if (wait <= 0) return send();
    keyframeTimer = setTimeout(send, wait);
    keyframeTimer.unref();
  }

  return {
    open,
    subscribe(onRtp) {
      subscribers.add(onRtp);
      return () => subscribers.delete(onRtp);
    },
    requestKeyframe,
    get isOpen() {
      return stream !== undefined;
    },
    stats,
    async close() {
      closed = true;
      clearTimeout(reopenTimer);
      clearTimeout(keyframeTimer);
      subscribers.clear();
      const s = stream ?? (await opening?.catch(() => undefined), stream);
      stream = undefined;
      await s?.close();
    },
  };
}
