import type { Logger } from '../lib/log.js';
import type { Feature } from './feature.js';

/**
 * Every call from main into the features goes through here, and each is isolated: a feature that
 * throws or rejects is logged with its name (`feature.<call>-failed`) and the next feature still
 * runs, as does every later round. Without that, one rejection would leave the shared chain rejected
 * (every later reconnect skipping all features) and end the process as an unhandled rejection.
 */
export interface ConnectRounds {
  /** Starts a round after the previous ones (call it on every 'connected'). */
  run(): void;
  /** Resolves when every round started so far has finished; never rejects. */
  settled(): Promise<void>;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Runs every feature's onConnected, in order, once per (re)connect. Calls of successive connects
 * never overlap (a connect waits for the previous round).
 */
export function connectRounds(features: readonly Feature[], opts: { isConnected: () => boolean; log: Logger }): ConnectRounds {
  let chain: Promise<void> = Promise.resolve();
  const round = async (): Promise<void> => {
    for (const f of features) {
      if (!opts.isConnected()) return; // a newer connect runs its own round
      try {
        await f.onConnected?.();
      } catch (err) {
        opts.log.error({ event: 'feature.onConnected-failed', feature: f.name, err: message(err) }, `feature ${f.name} failed on connect; the others carry on`);
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

/**
 * Tells every feature at once that the connection is lost, in order, without waiting for a connect
 * round in progress (its work is failing anyway). Resolves when every call has settled; never rejects.
 */
export async function notifyDisconnected(features: readonly Feature[], reason: string, log: Logger): Promise<void> {
  await Promise.all(
    features.map(async (f) => {
      try {
        await f.onDisconnected?.(reason);
      } catch (err) {
        log.error({ event: 'feature.onDisconnected-failed', feature: f.name, err: message(err) }, `feature ${f.name} failed on disconnect; the others carry on`);
      }
    }),
  );
}

/** Stops the features in reverse order; one that fails to stop does not keep the others running. */
export async function stopInReverse(features: readonly Feature[], log: Logger): Promise<void> {
  for (const f of [...features].reverse()) {
    try {
      await f.stop();
    } catch (err) {
      log.warn({ event: 'feature.stop-failed', feature: f.name, err: message(err) }, 'a feature did not stop cleanly');
    }
  }
}
