import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/log.js';
import { createFrameBuffer, createFrameRing } from './frame-buffer.js';

const T0 = Date.parse('2026-12-01T05:00:00.000Z');
const frame = (ms: number, bytes = 10) => ({ jpeg: Buffer.alloc(bytes, ms % 256), at: new Date(T0 + ms) });

describe('frame ring', () => {
  it('keeps at most maxFrames, dropping the oldest', () => {
    const ring = createFrameRing({ maxFrames: 3, maxBytes: 1000 });
    for (const ms of [0, 500, 1000, 1500, 2000]) ring.add(frame(ms));
    expect(ring.size).toBe(3);
    expect(ring.bytes).toBe(30);
    expect(ring.nearest(new Date(T0), 10_000)?.at.getTime()).toBe(T0 + 1000);
  });
  it('keeps at most maxBytes of JPEG data, dropping the oldest; a frame larger than the bound is not kept', () => {
    const ring = createFrameRing({ maxFrames: 100, maxBytes: 25 });
    ring.add(frame(0));
    ring.add(frame(500));
    ring.add(frame(1000));
    expect(ring.size).toBe(2);
    expect(ring.bytes).toBe(20);
    ring.add(frame(1500, 26));
    expect(ring.size).toBe(2);
    expect(ring.bytes).toBe(20);
  });
  it('gives the frame nearest the event time, before or after it, within the distance', () => {
    const ring = createFrameRing({ maxFrames: 10, maxBytes: 1000 });
    for (const ms of [0, 500, 1000]) ring.add(frame(ms));
    expect(ring.nearest(new Date(T0 + 700), 2000)?.at.getTime()).toBe(T0 + 500);
    expect(ring.nearest(new Date(T0 + 800), 2000)?.at.getTime()).toBe(T0 + 1000);
    expect(ring.nearest(new Date(T0 + 5000), 2000)).toBeUndefined();
    expect(createFrameRing({ maxFrames: 1, maxBytes: 1 }).nearest(new Date(T0), 1e9)).toBeUndefined();
  });
});

describe('frame buffer (sampler)', () => {
  const log = createLogger({ name: 't', level: 'silent' });
  const settings = { frames: 3, fps: 50, maxBytes: 1000, resolution: '640x360' };

  it('samples frames one at a time into the ring, timed at the middle of the capture, and stops', async () => {
    let captures = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    let reachedFive!: () => void;
    const five = new Promise<void>((r) => (reachedFive = r));
    const buffer = createFrameBuffer({
      settings,
      log,
      capture: async () => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise<void>((r) => setImmediate(r));
        inFlight -= 1;
        captures += 1;
        if (captures === 5) reachedFive();
        return Buffer.alloc(10);
      },
    });
    buffer.start();
    await five;
    await buffer.stop();
    const after = captures;
    expect(buffer.size).toBe(3);
    expect(maxInFlight).toBe(1);
    await new Promise((r) => setTimeout(r, 60)); // two periods: a stopped sampler takes no more
    expect(captures).toBe(after);
  });

  it('is off with 0 frames: never captures', async () => {
    let captures = 0;
    const buffer = createFrameBuffer({ settings: { ...settings, frames: 0 }, log, capture: async () => (captures++, Buffer.alloc(1)) });
    buffer.start();
    await buffer.stop();
    expect(captures).toBe(0);
  });

  it('asks the camera for at most maxBytes, and says so when a frame is bigger than the whole buffer (it could never be kept)', async () => {
    const lines: string[] = [];
    const logged = createLogger({ name: 't', level: 'info', destination: new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(...chunk.toString().split('\n').filter(Boolean)), cb()) }) });
    const asked: number[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const buffer = createFrameBuffer({
      settings,
      log: logged,
      capture: async (_signal, maxBytes) => {
        asked.push(maxBytes);
        if (asked.length === 3) done();
        return Buffer.alloc(settings.maxBytes + 1); // a capture step that did not honour the bound
      },
    });
    buffer.start();
    await finished;
    await buffer.stop();
    expect(asked[0]).toBe(settings.maxBytes);
    expect(buffer.size).toBe(0);
    expect(buffer.bytes).toBe(0);
    const logs = lines.map((l) => JSON.parse(l) as { event?: string; err?: string });
    expect(logs.some((l) => l.event === 'events.prebuffer-ready')).toBe(false);
    expect(logs.filter((l) => l.event === 'events.prebuffer-failed')).toHaveLength(1);
    expect(logs.find((l) => l.event === 'events.prebuffer-failed')?.err).toContain('larger than events.preBuffer.maxBytes (1000)');
  });

  it('logs a failing capture once until it works again, and keeps sampling', async () => {
    const lines: string[] = [];
    const logged = createLogger({ name: 't', level: 'info', destination: new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(...chunk.toString().split('\n').filter(Boolean)), cb()) }) });
    let n = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const buffer = createFrameBuffer({
      settings,
      log: logged,
      capture: async () => {
        n += 1;
        if (n === 6) done();
        if (n <= 3 || n === 5) throw new Error('camera: 503');
        return Buffer.alloc(5);
      },
    });
    buffer.start();
    await finished;
    await buffer.stop();
    const events = lines.map((l) => (JSON.parse(l) as { event?: string }).event);
    expect(events.filter((e) => e === 'events.prebuffer-failed')).toHaveLength(2);
    expect(events.filter((e) => e === 'events.prebuffer-resumed')).toHaveLength(2); // after 4 and after 6
  });
});
