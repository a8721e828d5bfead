/**
 * Reconnect delays: exponential backoff with full jitter, delay = random(0, min(cap, base * 2^n)).
 * Full jitter spreads a fleet of cameras that lost the broker at the same moment over the whole
 * window, so they do not reconnect in lockstep (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"). Pure: time and randomness are injected so tests can pin every delay.
 */
export interface BackoffOptions {
  /** Base delay in ms (the window of the first retry). */
  minMs: number;
  /** Cap on the window in ms. */
  maxMs: number;
  /** Uniform random in [0, 1); Math.random by default. */
  random?: () => number;
}

export class Backoff {
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #failures = 0;

  constructor(options: BackoffOptions) {
    if (!Number.isFinite(options.minMs) || options.minMs <= 0) {
      throw new RangeError(`backoff minMs must be a positive number of milliseconds, got ${options.minMs}`);
    }
    if (!Number.isFinite(options.maxMs) || options.maxMs < options.minMs) {
      throw new RangeError(`backoff maxMs (${options.maxMs}) must be a number >= minMs (${options.minMs})`);
    }
    this.#minMs = options.minMs;
    this.#maxMs = options.maxMs;
    this.#random = options.random ?? Math.random;
  }

  /** How many delays were handed out since the last reset. */
  get failures(): number {
    return this.#failures;
  }

  /** The upper bound of the window for the next delay (without jitter). */
  window(): number {
    // 2^n overflows to Infinity long after it passed the cap; min() keeps it finite.
    return Math.min(this.#maxMs, this.#minMs * 2 ** this.#failures);
  }

  /** The next delay in whole ms; each call widens the window until the cap. */
  next(): number {
    const window = this.window();
    this.#failures += 1;
    const r = this.#random();
    // Clamp a misbehaving random source into [0, 1) so the delay never exceeds the window.
    const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0;
    return Math.floor(unit * window);
  }

  /** Call after a connection that stayed up long enough to count as healthy. */
  reset(): void {
    this.#failures = 0;
  }
}
