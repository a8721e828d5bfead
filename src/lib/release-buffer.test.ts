import { describe, expect, it } from 'vitest';
import { releaseBuffer } from './release-buffer.js';

describe('releaseBuffer', () => {
  it('hands back a Buffer that owns its whole ArrayBuffer: the Buffer is empty afterwards', () => {
    const buf = Buffer.alloc(200_000, 1);
    expect(releaseBuffer(buf)).toBe(true);
    expect(buf.length).toBe(0);
    expect(buf.buffer.byteLength).toBe(0);
  });

  it("leaves a small Buffer from node's shared pool alone, and its neighbours intact", () => {
    const a = Buffer.from('first');
    const b = Buffer.from('second');
    expect(a.buffer).toBe(b.buffer); // both in node's pool
    expect(releaseBuffer(b)).toBe(false);
    expect([a.toString(), b.toString()]).toEqual(['first', 'second']);
  });

  it('leaves a slice alone (its ArrayBuffer holds other bytes), and the whole it came from', () => {
    const whole = Buffer.alloc(100_000, 2);
    const slice = whole.subarray(10, 1000);
    expect(releaseBuffer(slice)).toBe(false);
    expect(slice.length).toBe(990);
    expect(whole.length).toBe(100_000);
  });

  it('is harmless on an empty or already released Buffer', () => {
    const buf = Buffer.alloc(50_000);
    expect(releaseBuffer(buf)).toBe(true);
    expect(releaseBuffer(buf)).toBe(false);
    expect(releaseBuffer(Buffer.alloc(0))).toBe(false);
  });
});
