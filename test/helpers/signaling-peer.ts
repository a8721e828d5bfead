/**
 * A signalling client for tests: SignalingClient (src/protocol/kvs-signaling.ts) with its messages
 * queued, so a test awaits the next one instead of sleeping, and its close awaited the same way.
 */
import { SignalingClient, type SignalingMessage } from '../../src/protocol/kvs-signaling.js';

export interface TestPeer {
  client: SignalingClient;
  /** The next message (past or future); rejects after timeoutMs. */
  next(timeoutMs?: number): Promise<SignalingMessage>;
  /** Messages received and not yet taken by next(). */
  readonly queued: SignalingMessage[];
  closed: Promise<{ code: number; reason: string }>;
  invalid: string[];
}

export async function connectPeer(url: string, ca: Buffer, opts: { maxMessagesPerSecond?: number } = {}): Promise<TestPeer> {
  const queued: SignalingMessage[] = [];
  const waiters: ((m: SignalingMessage) => void)[] = [];
  const invalid: string[] = [];
  let onClosed: (c: { code: number; reason: string }) => void = () => undefined;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (onClosed = resolve));
  const client = await SignalingClient.connect(url, {
    ca,
    ...(opts.maxMessagesPerSecond !== undefined ? { maxMessagesPerSecond: opts.maxMessagesPerSecond } : {}),
    onMessage: (m) => {
      const waiter = waiters.shift();
      if (waiter) waiter(m);
      else queued.push(m);
    },
    onInvalid: (why) => invalid.push(why),
    onClose: (code, reason) => onClosed({ code, reason }),
  });
  return {
    client,
    queued,
    closed,
    invalid,
    next: (timeoutMs = 5000) => {
      const first = queued.shift();
      if (first) return Promise.resolve(first);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(deliver), 1);
          reject(new Error(`no signalling message within ${timeoutMs} ms`));
        }, timeoutMs);
        const deliver = (m: SignalingMessage): void => {
          clearTimeout(timer);
          resolve(m);
        };
        waiters.push(deliver);
      });
    },
  };
}
