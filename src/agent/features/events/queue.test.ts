import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEventQueue } from './queue.js';

let dir: string;
beforeEach(async () => {
  dir = path.join(await mkdtemp(path.join(os.tmpdir(), 'event-queue-')), 'q');
});
afterEach(async () => {
  await rm(path.dirname(dir), { recursive: true, force: true });
});

const entry = (n: number) => ({ key: `cam/events/2026/12/01/${n}-motion.jpg`, trigger: 'motion', topic: 'tns1:VideoSource/MotionAlarm', eventTime: new Date(n).toISOString() });

describe('event queue', () => {
  it('keeps entries in order across a restart', async () => {
    const q = await openEventQueue(dir, { maxCount: 10, maxBytes: 1000 });
    for (const n of [1, 2, 3]) await q.push(entry(n), Buffer.from(`jpeg-${n}`));
    const again = await openEventQueue(dir, { maxCount: 10, maxBytes: 1000 });
    expect(again.size).toBe(3);
    const head = again.peek();
    expect(head?.key).toBe(entry(1).key);
    if (!head) throw new Error('empty');
    expect((await again.read(head)).toString()).toBe('jpeg-1');
    await again.remove(head);
    await again.push(entry(4), Buffer.from('jpeg-4'));
    const third = await openEventQueue(dir, { maxCount: 10, maxBytes: 1000 });
    const order: string[] = [];
    for (let e = third.peek(); e; e = third.peek()) {
      order.push(e.key);
      await third.remove(e);
    }
    expect(order).toEqual([2, 3, 4].map((n) => entry(n).key));
  });

  it('drops the oldest first when the count or the bytes are exceeded, and counts them', async () => {
    const q = await openEventQueue(dir, { maxCount: 3, maxBytes: 20 });
    for (const n of [1, 2, 3]) expect(await q.push(entry(n), Buffer.alloc(5))).toEqual([]);
    const byCount = await q.push(entry(4), Buffer.alloc(5));
    expect(byCount.map((e) => e.key)).toEqual([entry(1).key]);
    const byBytes = await q.push(entry(5), Buffer.alloc(15));
    expect(byBytes.map((e) => e.key)).toEqual([entry(2).key, entry(3).key]);
    expect(q.peek()?.key).toBe(entry(4).key);
    expect(q.dropped).toBe(3);
    expect(q.bytes).toBe(20);
    const tooBig = await q.push(entry(6), Buffer.alloc(21));
    expect(tooBig.map((e) => e.key)).toEqual([entry(6).key]);
    expect(q.size).toBe(2);
  });

  it('has an entry at once, before it is on disk; a removal waits for the write, so the entry never comes back', async () => {
    const q = await openEventQueue(dir, { maxCount: 10, maxBytes: 1000 });
    const pushed = q.push(entry(1), Buffer.from('jpeg-1'));
    const head = q.peek();
    expect(head?.key).toBe(entry(1).key);
    if (!head) throw new Error('empty');
    expect((await q.read(head)).toString()).toBe('jpeg-1');
    await q.remove(head);
    await pushed;
    expect(await readdir(dir)).toEqual([]);
    expect((await openEventQueue(dir, { maxCount: 10, maxBytes: 1000 })).size).toBe(0);
  });

  it('takes an entry out again when it cannot be written, and says so', async () => {
    const q = await openEventQueue(dir, { maxCount: 10, maxBytes: 1000 });
    await rm(dir, { recursive: true });
    await expect(q.push(entry(1), Buffer.from('a'))).rejects.toThrow(/ENOENT/);
    expect(q.size).toBe(0);
    expect(q.bytes).toBe(0);
  });

  it('deletes an orphan picture and an unreadable entry at start', async () => {
    const q = await openEventQueue(dir, { maxCount: 10, maxBytes: 1000 });
    await q.push(entry(1), Buffer.from('a'));
    await writeFile(path.join(dir, '7.jpg'), 'orphan');
    await writeFile(path.join(dir, '8.jpg'), 'x');
    await writeFile(path.join(dir, '8.json'), '{broken');
    const again = await openEventQueue(dir, { maxCount: 10, maxBytes: 1000 });
    expect(again.size).toBe(1);
    expect((await readdir(dir)).sort()).toEqual(['1.jpg', '1.json']);
  });
});
