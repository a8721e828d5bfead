import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { shadowTopics, type ShadowTopics } from './topics.js';
import type { CloudClock } from './cloud-clock.js';

/**
 * The device side of the AWS IoT Device Shadow MQTT protocol for one (named) shadow: get and
 * update correlated by clientToken, deltas as events, and the newest version seen, for conditional
 * updates. Transport-agnostic: it needs only publish/subscribe and a message event.
 */
export interface MqttLink {
  publish(topic: string, payload: string, opts: { qos: 0 | 1 }): Promise<void>;
  subscribe(topics: string[], qos: 0 | 1): Promise<void>;
  on(event: 'message', listener: (topic: string, payload: Buffer) => void): unknown;
  off(event: 'message', listener: (topic: string, payload: Buffer) => void): unknown;
}

export interface ShadowState {
  desired?: Record<string, unknown>;
  reported?: Record<string, unknown>;
  delta?: Record<string, unknown>;
}

export interface ShadowDocument {
  state: ShadowState;
  version: number;
  timestamp?: number;
  clientToken?: string;
}

/** A `rejected` reply: AWS's error code (400, 404, 409, 413, ...) and message. */
export class ShadowRequestError extends Error {
  override readonly name = 'ShadowRequestError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve(doc: Record<string, unknown>): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  topic: string;
  payload: string;
  /** Which subscribe() had begun when it was published (0: none). */
  subscription: number;
}

export interface ShadowClientEvents {
  /** `state` is the delta's state (only the desired keys that differ from reported). */
  delta: [state: Record<string, unknown>, version: number];
}

const MAX_TOKEN = 64;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class ShadowClient extends EventEmitter<ShadowClientEvents> {
  readonly topics: ShadowTopics;
  private readonly pending = new Map<string, Pending>();
  private readonly tokenPrefix: string;
  private counter = 0;
  private subscriptions = 0;
  private newestVersion: number | undefined;
  private readonly onMessage = (topic: string, payload: Buffer): void => this.receive(topic, payload);

  constructor(
    private readonly link: MqttLink,
    thing: string,
    shadowName: string | undefined,
    private readonly timeoutMs = 10_000,
    /** Fed with the `timestamp` of every shadow message, to judge expiry by the cloud's clock. */
    private readonly clock?: CloudClock,
  ) {
    super();
    this.topics = shadowTopics(thing, shadowName);
    this.tokenPrefix = randomBytes(4).toString('hex');
    link.on('message', this.onMessage);
  }

  /** The newest shadow version at which this client knows the desired state (own replies, deltas). */
  get version(): number | undefined {
    return this.newestVersion;
  }

  /**
   * Subscribes to the reply and delta topics, by name (no wildcards, as AWS advises), then publishes
   * again every request still waiting that went out before this subscription. The service answers
   * only subscribers, and on a reconnect without a session (the broker lost it, or it expired)
   * mqtt.js replays its unacknowledged publishes before 'connect', so before the features subscribe
   * again: such a reply is lost and the request would wait its whole timeout. The same token is
   * sent; a reply that does arrive twice is ignored, and a versioned update that had landed the first
   * time is refused (409) as a conditional update should be.
   */
  async subscribe(): Promise<void> {
    const t = this.topics;
    const subscription = ++this.subscriptions;
    await this.link.subscribe([t.getAccepted, t.getRejected, t.updateAccepted, t.updateRejected, t.updateDelta], 1);
    for (const [token, p] of this.pending) {
      if (p.subscription >= subscription) continue;
      p.subscription = subscription;
      this.link.publish(p.topic, p.payload, { qos: 1 }).catch((err: unknown) => this.fail(token, err));
    }
  }

  /** The whole shadow document, or undefined when the shadow does not exist (404). */
  async get(): Promise<ShadowDocument | undefined> {
    try {
      const doc = await this.request(this.topics.get, {});
      return doc as unknown as ShadowDocument;
    } catch (err) {
      if (err instanceof ShadowRequestError && err.code === 404) return undefined;
      throw err;
    }
  }

  /** Updates the shadow; with `version`, only if the shadow is still at that version (else 409). */
  async update(state: ShadowState, opts: { version?: number } = {}): Promise<ShadowDocument> {
    const body: Record<string, unknown> = { state };
    if (opts.version !== undefined) body['version'] = opts.version;
    return (await this.request(this.topics.update, body)) as unknown as ShadowDocument;
  }

  close(): void {
    this.link.off('message', this.onMessage);
    for (const [token, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error('shadow client closed'));
      this.pending.delete(token);
    }
  }

  private nextToken(): string {
    this.counter += 1;
    return `${this.tokenPrefix}-${this.counter}`.slice(0, MAX_TOKEN);
  }

  private request(topic: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const clientToken = this.nextToken();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(clientToken);
        reject(new Error(`no reply from the shadow service on ${topic} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      const payload = JSON.stringify({ ...body, clientToken });
      this.pending.set(clientToken, { resolve, reject, timer, topic, payload, subscription: this.subscriptions });
      this.link.publish(topic, payload, { qos: 1 }).catch((err: unknown) => this.fail(clientToken, err));
    });
  }

  private fail(token: string, err: unknown): void {
    const p = this.pending.get(token);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(token);
    p.reject(err instanceof Error ? err : new Error(String(err)));
  }

  private noteVersion(v: unknown): void {
    if (typeof v === 'number' && Number.isInteger(v) && (this.newestVersion === undefined || v > this.newestVersion)) this.newestVersion = v;
  }

  private receive(topic: string, payload: Buffer): void {
    const t = this.topics;
    if (![t.getAccepted, t.getRejected, t.updateAccepted, t.updateRejected, t.updateDelta].includes(topic)) return;
    let doc: unknown;
    try {
      doc = JSON.parse(payload.toString('utf8'));
    } catch {
      return; // the service only sends JSON; anything else is not ours to answer
    }
    if (!isObject(doc)) return;
    if (typeof doc['timestamp'] === 'number') this.clock?.note(doc['timestamp']);
    if (topic === t.updateDelta) {
      if (isObject(doc['state']) && typeof doc['version'] === 'number') {
        this.noteVersion(doc['version']);
        this.emit('delta', doc['state'], doc['version']);
      }
      return;
    }
    const token = doc['clientToken'];
    if (typeof token !== 'string') return;
    const p = this.pending.get(token);
    if (!p) return;
    this.pending.delete(token);
    clearTimeout(p.timer);
    if (topic === t.getRejected || topic === t.updateRejected) {
      const code = typeof doc['code'] === 'number' ? doc['code'] : 500;
      p.reject(new ShadowRequestError(code, typeof doc['message'] === 'string' ? doc['message'] : 'rejected'));
    } else {
      // Versions only from our own replies and deltas: at those versions we know what desired holds.
      // Another client's update/accepted bumps the real version without telling us desired; a
      // conditional update at our older version then fails (409) instead of clearing unseen state.
      this.noteVersion(doc['version']);
      p.resolve(doc);
    }
  }
}
