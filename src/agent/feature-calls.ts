import type { Logger } from '../lib/log.js';
import type { Feature } from './feature.js';

/**
 * Runs every feature's onConnected, in order, once per (re)connect. Calls of successive connects
 * never overlap (a connect waits for the previous round), and each call is isolated: a feature that
 * throws or rejects is logged with its name and the next feature still runs, as does every later
 * round. Without that, one rejection would leave the shared chain rejected (every later reconnect
 * skipping all features) and end the process as an unhandled rejection.
 */
export interface ConnectRounds {
  /** Starts a round after the previous ones (call it on every 'connected'). */
  run(): void;
  /** Resolves when every round started so far has finished; never rejects. */
  settled(): Promise<void>;
}

export function connectRounds(features: readonly Feature[], opts: { isConnected: () => boolean; log: Logger }): ConnectRounds {
  let chain: Promise<void> = Promise.resolve();
  const round = async (): Promise<void> => {
    for (const f of features) {
      if (!opts.isConnected()) return; // a newer connect runs its own round
      try {
        await f.onConnected?.();
      } catch (err) {
        opts.log.error({ event: 'feature.onConnected-failed', feature: f.name, err: err instanceof Error ? err.message : String(err) }, `feature ${f.name} failed on connect; the others carry on`);
      }
    }
  };
  return {
    run() {
      chain = chain.then(round);
    },
    settled: () => chain,
  };
}
