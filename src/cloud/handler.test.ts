import { describe, expect, it } from 'vitest';
import { newRequestId, snapshotKey } from './handler.js';

describe('request ids and snapshot keys', () => {
  it('sort by time down to the millisecond, whatever the random suffix', () => {
    const t0 = new Date('2026-11-27T13:02:05.998Z');
    for (let i = 0; i < 200; i += 1) {
      const a = snapshotKey('camera-1', newRequestId(t0), t0);
      const t1 = new Date(t0.getTime() + 1 + (i % 3));
      const b = snapshotKey('camera-1', newRequestId(t1), t1);
      expect(a < b).toBe(true);
    }
  });
  it('have the documented shape', () => {
    const at = new Date('2026-11-27T13:02:05.412Z');
    expect(snapshotKey('camera-1', newRequestId(at), at)).toMatch(/^camera-1\/2026\/11\/27\/20261127T130205412Z-[0-9a-f]{8}\.jpg$/);
  });
});
