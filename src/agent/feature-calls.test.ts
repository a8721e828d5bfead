import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Feature } from './feature.js';
import { connectRounds, notifyDisconnected, stopInReverse } from './feature-calls.js';
import { captureLog } from '../../test/helpers/agent-connection-kit.js';

/** A feature that records its onConnected calls; `fail` makes it throw (sync) or reject (async). */
function recorder(name: string, calls: string[], fail?: 'throw' | 'reject'): Feature {
  return {
    name,
    start: async () => undefined,
    stop: async () => undefined,
    onConnected:
      fail === 'throw'
        ? () => {
            calls.push(name);
            throw new Error(`${name} broke`);
          }
        : async () => {
            calls.push(name);
            if (fail === 'reject') throw new Error(`${name} broke`);
          },
  };
}

describe('connectRounds: one failing feature does not stop the others', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  it.each(['throw', 'reject'] as const)('a feature whose onConnected %ss: the others run, on every reconnect, and nothing is unhandled', async (fail) => {
    const calls: string[] = [];
    const { log, lines } = captureLog();
    const rounds = connectRounds([recorder('local-api', calls), recorder('broken', calls, fail), recorder('presence', calls)], { isConnected: () => true, log });
    rounds.run();
    rounds.run(); // a reconnect while the first round runs: queued after it
    await rounds.settled();
    rounds.run(); // a later reconnect
    await rounds.settled();
    // Let a rejection that nobody handled surface (node reports them after the microtask queue drains).
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual(Array.from({ length: 3 }, () => ['local-api', 'broken', 'presence']).flat());
    const failures = lines.filter((l) => l['event'] === 'feature.onConnected-failed');
    expect(failures).toHaveLength(3);
    expect(failures[0]).toMatchObject({ feature: 'broken', err: 'broken broke' });
    expect(unhandled).toEqual([]);
  });

  it('a round stops early when the connection dropped; the next connect runs every feature', async () => {
    const calls: string[] = [];
    let connected = true;
    let drops = 1;
    const dropping: Feature = {
      ...recorder('snapshot', calls),
      onConnected: async () => {
        calls.push('snapshot');
        if (drops-- > 0) connected = false; // the connection drops during the first round only
      },
    };
    const rounds = connectRounds([dropping, recorder('presence', calls)], { isConnected: () => connected, log: captureLog().log });
    rounds.run();
    await rounds.settled();
    connected = true;
    rounds.run();
    await rounds.settled();
    expect(calls).toEqual(['snapshot', 'snapshot', 'presence']);
  });

  it.each(['throw', 'reject'] as const)('onDisconnected that %ss: every other feature still hears of the loss, with the reason, and nothing is unhandled', async (fail) => {
    const heard: string[] = [];
    const { log, lines } = captureLog();
    const hearing = (name: string): Feature => ({ ...recorder(name, []), onDisconnected: (reason) => void heard.push(`${name}: ${reason}`) });
    const broken: Feature = {
      ...recorder('broken', []),
      onDisconnected:
        fail === 'throw'
          ? () => {
              throw new Error('broken broke');
            }
          : async () => {
              throw new Error('broken broke');
            },
    };
    await notifyDisconnected([hearing('local-api'), broken, recorder('presence', []), hearing('events')], 'keepalive timeout', log);
    await new Promise((resolve) => setImmediate(resolve));
    expect(heard).toEqual(['local-api: keepalive timeout', 'events: keepalive timeout']);
    expect(lines.filter((l) => l['event'] === 'feature.onDisconnected-failed')).toEqual([expect.objectContaining({ feature: 'broken', err: 'broken broke' })]);
    expect(unhandled).toEqual([]);
  });

  it('stops in reverse order; one that fails to stop does not keep the others running', async () => {
    const stopped: string[] = [];
    const { log, lines } = captureLog();
    const stopping = (name: string, fails = false): Feature => ({
      ...recorder(name, []),
      stop: async () => {
        stopped.push(name);
        if (fails) throw new Error(`${name} stuck`);
      },
    });
    await stopInReverse([stopping('local-api'), stopping('snapshot', true), stopping('presence')], log);
    expect(stopped).toEqual(['presence', 'snapshot', 'local-api']);
    expect(lines.filter((l) => l['event'] === 'feature.stop-failed')).toEqual([expect.objectContaining({ feature: 'snapshot', err: 'snapshot stuck' })]);
  });
});
