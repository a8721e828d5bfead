/**
 * The cloud's time as seen from the device. A presigned POST expires by S3's clock, not the
 * camera's; a camera whose clock runs ahead by more than the presign window (no NTP yet, a dead RTC
 * battery) would otherwise call every good request `expired`. Every shadow service message
 * (get/accepted, update/delta, update/accepted, .../rejected) carries `timestamp`, the service's
 * time in whole epoch seconds; the offset is estimated from the newest one. Accuracy: the second is
 * truncated (the estimate takes its middle, so +-0.5 s) plus the message's delivery time, small next
 * to a presign window of minutes.
 */
export class CloudClock {
  #offsetMs = 0;
  #reported = false;

  constructor(
    private readonly deviceNow: () => number = Date.now,
    /** Called once, the first time the offset is at least LARGE_OFFSET_MS either way. */
    private readonly onLargeOffset?: (offsetMs: number) => void,
  ) {}

  /** An offset this large means the device's NTP is not working; ops should hear of it. */
  static readonly LARGE_OFFSET_MS = 30_000;

  /** Cloud time minus device time, in ms (0 until a shadow message arrived). */
  get offsetMs(): number {
    return this.#offsetMs;
  }

  /** Takes the `timestamp` (epoch seconds) of a shadow message that just arrived. */
  note(timestampSeconds: number): void {
    if (!Number.isFinite(timestampSeconds) || timestampSeconds <= 0) return;
    this.#offsetMs = Math.round(timestampSeconds * 1000 + 500 - this.deviceNow());
    if (!this.#reported && Math.abs(this.#offsetMs) >= CloudClock.LARGE_OFFSET_MS) {
      this.#reported = true;
      this.onLargeOffset?.(this.#offsetMs);
    }
  }

  /** The device's time corrected to the cloud's, in epoch ms. */
  now(): number {
    return this.deviceNow() + this.#offsetMs;
  }
}
