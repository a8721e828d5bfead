import { describe, expect, it } from 'vitest';
import type { AgentStatus } from '../agent/features/local-api.js';
import { eventsLine, formatCheck } from './check.js';

/** `setup check`'s events line, from the agent's /status (docs/protocol.md §8, issue 19). */
const status = (events?: AgentStatus['events']): AgentStatus => ({
  thingName: 'camera-1',
  agentVersion: '1.0.0',
  connected: true,
  since: '2026-12-07T10:00:00.000Z',
  identity: { state: 'confirmed' } as AgentStatus['identity'],
  ...(events ? { events } : {}),
});
const counters = { captured: 3, uploaded: 2, failed: 0, droppedCooldown: 0, droppedCap: 0, droppedQueue: 0, queued: 1 };

describe('setup check: events', () => {
  it('names firmware without event streaming, with the fix', () => {
    const line = eventsLine(status({ state: 'unsupported by this firmware', ...counters }));
    expect(line).toMatchObject({ name: 'events', ok: false });
    expect(formatCheck([line!])).toMatch(/event snapshots unsupported by this firmware[\s\S]*fix: upgrade AXIS OS to 11 or later/);
  });
  it('shows a connected stream as fine and a reconnecting one as neither', () => {
    expect(eventsLine(status({ state: 'connected', ...counters }))).toMatchObject({ ok: true, detail: 'camera event stream connected; 2 event snapshots uploaded, 1 queued' });
    expect(eventsLine(status({ state: 'reconnecting', ...counters }))?.ok).toBeUndefined();
  });
  it('has no line when the agent has no triggers or predates the state', () => {
    expect(eventsLine(status())).toBeUndefined();
    expect(eventsLine(status(counters))).toBeUndefined();
  });
});
