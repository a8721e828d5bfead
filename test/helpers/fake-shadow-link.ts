/**
 * An in-memory stand-in for the agent's MQTT connection with the AWS shadow service behind it, for
 * fast unit tests of features. The service is devcloud's own ShadowStore (the strict, tested
 * stand-in: versions, 409 on a stale conditional update, deltas, `null` deletes), bound the way
 * devcloud's mqtt-service.ts binds it to a broker: requests on .../get and .../update, answers on
 * /accepted or /rejected, a delta after every change whoever made it. Only the broker is missing:
 * messages reach the client asynchronously, on the topics it subscribed to, while `connected`.
 *
 * Faults tests can switch: `connected = false` (publish and subscribe reject, nothing is delivered),
 * `holdDeltas()` / `releaseDeltas()` (a delta still on its way), `refuseNext()` (a throttled or
 * failed request), and `cloudUpdate()` for a write by another client (the cloud handler), whose
 * replies the agent's client never matches.
 */
import { EventEmitter } from 'node:events';
import type { IPublishPacket } from 'mqtt';
import type { ConnectionEvents, TlsFiles } from '../../src/agent/connection.js';
import type { FeatureConnection } from '../../src/agent/feature.js';
import { ShadowError, ShadowStore, type UpdateResult } from '../../src/devcloud/shadow/store.js';
import { parseTokenRequest } from '../../src/devcloud/shadow/document.js';
import { parseRequestTopic, responseTopic, type ShadowKey } from '../../src/devcloud/shadow/topics.js';
import type { SnapshotReport, SnapshotRequest } from '../../src/protocol/snapshot.js';

export class FakeShadowLink extends EventEmitter<ConnectionEvents> implements FeatureConnection {
  readonly store = new ShadowStore();
  connected = true;
  readonly tlsFiles: TlsFiles = { caPath: '', certPath: '', keyPath: '' };
  /** Every request the client published, in order (topic and parsed body). */
  readonly requests: { topic: string; body: Record<string, unknown> }[] = [];
  private readonly subscribed = new Set<string>();
  private held: (() => void)[] | undefined;
  private readonly refusals: { operation: 'get' | 'update'; code: 429 | 500 }[] = [];

  constructor(readonly key: Required<ShadowKey>) {
    super();
    this.store.on('updated', (k: ShadowKey, result: UpdateResult) => this.onUpdated(k, result));
  }

  async publish(topic: string, payload: string | Buffer): Promise<void> {
    if (!this.connected) throw new Error('not connected');
    const text = payload.toString();
    const request = parseRequestTopic(topic);
    if (!request) return;
    this.requests.push({ topic, body: JSON.parse(text) as Record<string, unknown> });
    // The broker hands the request to the service later, never inside the publish call.
    setImmediate(() => {
      const { key, operation } = request;
      try {
        const refusal = this.refusals.findIndex((r) => r.operation === operation);
        if (refusal >= 0) {
          const { code } = this.refusals.splice(refusal, 1)[0]!;
          throw new ShadowError(code, code === 429 ? 'Rate limit exceeded' : 'Internal service failure', parseTokenRequest(text));
        }
        if (operation === 'get') this.deliver(responseTopic(key, 'get', 'accepted'), this.store.get(key, parseTokenRequest(text)));
        else if (operation === 'update') this.store.update(key, text);
        else this.store.delete(key, text);
      } catch (err) {
        const shadowError = err instanceof ShadowError ? err : new ShadowError(500, 'Internal service failure');
        this.deliver(responseTopic(key, operation, 'rejected'), shadowError.toDocument(this.store.seconds()));
      }
    });
  }

  async subscribe(topics: string[]): Promise<void> {
    if (!this.connected) throw new Error('not connected');
    for (const t of topics) this.subscribed.add(t);
  }

  reconnectWith(): void {}

  /** A write by another client (the cloud): the store changes, deltas follow, its replies are not the agent's. */
  cloudUpdate(state: Record<string, unknown>, version?: number): UpdateResult {
    return this.store.update(this.key, JSON.stringify(version === undefined ? { state } : { state, version }));
  }

  /** The shadow's state as stored (desired and reported). */
  state(): { desired?: Record<string, unknown>; reported?: Record<string, unknown> } {
    return this.store.get(this.key).state;
  }

  /** The service answers the next `operation` with this error (AWS throttles with 429, fails with 500). */
  refuseNext(operation: 'get' | 'update', code: 429 | 500): void {
    this.refusals.push({ operation, code });
  }

  /** Deltas wait until releaseDeltas(): a change the agent has not heard of yet. */
  holdDeltas(): void {
    this.held ??= [];
  }

  releaseDeltas(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const d of held) d();
  }

  private onUpdated(key: ShadowKey, result: UpdateResult): void {
    this.deliver(responseTopic(key, 'update', 'accepted'), result.accepted);
    this.deliver(responseTopic(key, 'update', 'documents'), result.documents);
    const delta = result.delta;
    if (delta === undefined) return;
    const send = (): void => this.deliver(responseTopic(key, 'update', 'delta'), delta);
    if (this.held) this.held.push(send);
    else send();
  }

  private deliver(topic: string, body: object): void {
    // Routed when published, like a broker: a subscription made later does not receive it.
    if (!this.connected || !this.subscribed.has(topic)) return;
    const payload = Buffer.from(JSON.stringify(body));
    setImmediate(() => {
      if (!this.connected) return;
      const packet: IPublishPacket = { cmd: 'publish', qos: 1, dup: false, retain: false, topic, payload };
      this.emit('message', topic, payload, packet);
    });
  }
}

/** A well-formed snapshot request as the cloud handler writes it (the URL is never contacted here). */
export function snapshotRequest(id: string): SnapshotRequest {
  return { id, url: 'https://bucket.s3.example.com/', fields: { key: `cam-1/${id}.jpg` }, expiresAt: new Date(Date.now() + 600_000).toISOString(), maxBytes: 1_000_000 };
}

/** Resolves with the report of the first shadow update that writes `reported.snapshot` for `id`. */
export function nextReportWritten(link: FakeShadowLink, id: string): Promise<SnapshotReport> {
  return new Promise((resolve) => {
    const onUpdated = (_key: ShadowKey, result: UpdateResult): void => {
      const written = (result.accepted.state['reported'] as { snapshot?: SnapshotReport } | undefined)?.snapshot;
      if (written?.id !== id) return;
      link.store.off('updated', onUpdated);
      resolve(written);
    };
    link.store.on('updated', onUpdated);
  });
}
