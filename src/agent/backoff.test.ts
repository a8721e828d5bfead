import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Backoff } from './backoff.js';

describe('Backoff (exponential, full jitter)', () => {
  it('doubles the window from minMs up to the cap', () => {
    const b = new Backoff({ minMs: 100, maxMs: 1000, random: () => 0.999999 });
    const delays = Array.from({ length: 7 }, () => b.next());
    // random just below 1 => the delay sits at the top of each window.
    expect(delays).toEqual([99, 199, 399, 799, 999, 999, 999]);
  });

  it('draws uniformly from 0 (full jitter, not equal jitter)', () => {
    const b = new Backoff({ minMs: 1000, maxMs: 60_000, random: () => 0 });
    expect([b.next(), b.next(), b.next()]).toEqual([0, 0, 0]);
    const half = new Backoff({ minMs: 1000, maxMs: 60_000, random: () => 0.5 });
    expect([half.next(), half.next(), half.next()]).toEqual([500, 1000, 2000]);
  });

  it('starts over after reset()', () => {
    const b = new Backoff({ minMs: 10, maxMs: 10_000, random: () => 0.5 });
    b.next();
    b.next();
    b.next();
    expect(b.failures).toBe(3);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.next()).toBe(5);
  });

  it('never exceeds the cap or goes negative, for any random source and any number of failures', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.array(fc.double({ noNaN: false }), { minLength: 1, maxLength: 2000 }),
        (minMs, extra, randoms) => {
          const maxMs = minMs + extra;
          let i = 0;
          const b = new Backoff({ minMs, maxMs, random: () => randoms[i++ % randoms.length] ?? 0 });
          for (let n = 0; n < randoms.length; n++) {
            const d = b.next();
            if (!(Number.isInteger(d) && d >= 0 && d < maxMs)) return false;
          }
          return true;
        },
      ),
    );
  });

  it('rejects nonsensical bounds with a message naming them', () => {
    expect(() => new Backoff({ minMs: 0, maxMs: 10 })).toThrow(/minMs must be a positive/);
    expect(() => new Backoff({ minMs: 100, maxMs: 10 })).toThrow(/maxMs \(10\) must be a number >= minMs \(100\)/);
  });
});
