import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/log.js';
import { createGrantKeeper } from './grant.js';

const log = createLogger({ name: 't', level: 'silent' });
const T0 = Date.parse('2026-12-01T05:00:00.000Z');
const grant = (expiresAt: string) => ({ url: 'https://b.s3.amazonaws.com/', fields: { key: 'cam-1/events/${filename}', Policy: 'p' }, keyPrefix: 'cam-1/events/', expiresAt, maxBytes: 100 });

function setup() {
  let t = T0;
  const asked: string[] = [];
  const keeper = createGrantKeeper({ thing: 'cam-1', log, now: () => t, requestGrant: (m) => (asked.push(m), Promise.resolve()) });
  return { keeper, asked, at: (ms: number) => (t = T0 + ms) };
}

describe('grant keeper', () => {
  it('asks for a grant when there is none, at most once per retry period', () => {
    const { keeper, asked, at } = setup();
    expect(keeper.usable()).toBeUndefined();
    expect(keeper.usable()).toBeUndefined();
    expect(asked).toHaveLength(1);
    expect(JSON.parse(asked[0] ?? '')).toMatchObject({ reason: 'grant' });
    at(30_000);
    keeper.check();
    expect(asked).toHaveLength(2);
  });
  it('uses a valid grant, renews it 10 minutes before it expires and drops it when expired', () => {
    const { keeper, asked, at } = setup();
    keeper.offer(grant('2026-12-01T06:00:00.000Z'));
    expect(keeper.usable()?.expiresAt).toBe('2026-12-01T06:00:00.000Z');
    expect(asked).toHaveLength(0);
    at(50 * 60_000 + 1);
    expect(keeper.usable()).toBeDefined();
    expect(asked).toHaveLength(1);
    at(60 * 60_000);
    expect(keeper.usable()).toBeUndefined();
    keeper.offer(grant('2026-12-01T07:00:00.000Z'));
    expect(keeper.usable()?.expiresAt).toBe('2026-12-01T07:00:00.000Z');
  });
  it('ignores another thing\'s grant and an older one; forgets a refused one', () => {
    const { keeper, asked } = setup();
    keeper.offer({ ...grant('2026-12-01T06:00:00.000Z'), keyPrefix: 'cam-2/events/' });
    expect(keeper.usable()).toBeUndefined();
    keeper.offer(grant('2026-12-01T06:00:00.000Z'));
    keeper.offer(grant('2026-12-01T05:30:00.000Z'));
    expect(keeper.usable()?.expiresAt).toBe('2026-12-01T06:00:00.000Z');
    const before = asked.length;
    keeper.refused();
    expect(keeper.usable()).toBeUndefined();
    expect(asked.length).toBe(before + 1);
  });
});
