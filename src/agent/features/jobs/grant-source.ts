import type { AgentConnection } from '../../connection.js';
import type { Logger } from '../../../lib/log.js';
import { CloudClock } from '../../../protocol/cloud-clock.js';
import { ShadowClient } from '../../../protocol/shadow-client.js';
import { snapshotRequestTopic } from '../../../protocol/topics.js';
import type { UploadGrant } from '../../../protocol/upload-grant.js';
import { createGrantKeeper } from '../events/grant.js';

/**
 * The upload grant for a diagnostics snapshot, kept by the events feature's grant keeper: read from
 * the named shadow when asked, and if none is usable, one is requested from the cloud and waited for
 * (a delta) at most `waitMs`.
 */
export interface GrantSource {
  usable(signal: AbortSignal): Promise<UploadGrant | undefined>;
  close(): void;
}

export function createShadowGrantSource(opts: { connection: AgentConnection; thing: string; shadowName: string; waitMs: number; log: Logger; now: () => Date }): GrantSource {
  const { connection, thing } = opts;
  // Expiry by S3's clock, estimated from the shadow's timestamps, as the events feature judges it.
  const clock = new CloudClock(() => opts.now().getTime());
  const shadow = new ShadowClient(connection, thing, opts.shadowName, undefined, clock);
  const keeper = createGrantKeeper({ thing, log: opts.log, now: () => clock.now(), requestGrant: (msg) => connection.publish(snapshotRequestTopic(thing), msg, { qos: 1 }) });
  let waiters: (() => void)[] = [];
  keeper.onUsable(() => {
    const w = waiters;
    waiters = [];
    w.forEach((f) => f());
  });
  const onDelta = (state: Record<string, unknown>): void => keeper.offer(state['uploadGrant']);
  shadow.on('delta', onDelta);

  return {
    async usable(signal) {
      await shadow.subscribe();
      keeper.offer((await shadow.get())?.state.desired?.['uploadGrant']);
      const now = keeper.usable(); // asks the cloud for one when there is none
      if (now) return now;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, opts.waitMs);
        signal.addEventListener('abort', done, { once: true });
        waiters.push(done);
      });
      return keeper.usable();
    },
    close() {
      shadow.off('delta', onDelta);
      shadow.close();
      const w = waiters;
      waiters = [];
      w.forEach((f) => f());
    },
  };
}
