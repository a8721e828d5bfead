/**
 * Accounts for every snapshot request of a fleet run from the cloud's side only: the requests the
 * cloud handler made (operator's or the rules' on presence), what the shadows were told about each
 * (reported.snapshot), which the cloud replaced in desired before any report, and how many S3 objects
 * each key received. The agents' own logs are never consulted, so an agent cannot hide a loss.
 */
import type { Devcloud } from '../devcloud/devcloud.js';
import type { UpdateResult } from '../devcloud/shadow/store.js';
import type { S3StoredObject } from '../devcloud/s3/server.js';
import type { HandleResult } from '../cloud/handler.js';

interface Entry {
  thing: string;
  key: string;
  /** When the request was made (ms since epoch). */
  at: number;
  statuses: Set<string>;
  /** Replaced in desired by a newer request before any report (cloud semantics: only the newest counts). */
  superseded: boolean;
  /** When its S3 object arrived. */
  storedAt?: number;
}

export interface FleetLedgerSummary {
  requested: number;
  /** Reported uploaded with exactly one S3 object. */
  delivered: number;
  byStatus: Record<string, number>;
  /** Replaced by a newer request before the agent reported it, and never reported (not lost: cloud semantics). */
  superseded: number;
  /** Neither reported nor superseded: lost. */
  lost: string[];
  /** Keys holding more than one S3 object, ids with conflicting reports, objects nobody asked for. */
  duplicates: string[];
  /** Reported uploaded but S3 has no object (or more than one) under the key. */
  uploadedWithoutObject: string[];
  /** request → S3 object, ms, ascending. */
  latenciesMs: number[];
}

function snapshotOf(v: unknown): { id?: unknown; status?: unknown } | undefined {
  return (v as { snapshot?: { id?: unknown; status?: unknown } } | undefined)?.snapshot;
}

export class FleetLedger {
  readonly #entries = new Map<string, Entry>();
  readonly #byKey = new Map<string, string>();
  readonly #objects = new Map<string, number>();
  readonly #settledWaiters = new Map<string, () => void>();
  readonly #unsubscribe: () => void;
  /** Presence messages the rules republished (each also invokes the handler) and handler calls finished. */
  #presenceSeen = 0;
  #rulesFinished = 0;

  constructor(private readonly dc: Devcloud) {
    const onHandled = (r: HandleResult): void => {
      this.#rulesFinished += 1;
      if (r.action === 'requested') this.add(r.thing, r.request.id, r.key, Date.now());
    };
    const onRulesError = (): void => {
      this.#rulesFinished += 1;
    };
    const onUpdate = (key: { thing: string }, result: UpdateResult): void => this.#onUpdate(key.thing, result);
    const onObject = (o: S3StoredObject): void => {
      this.#objects.set(o.key, (this.#objects.get(o.key) ?? 0) + 1);
      const id = this.#byKey.get(o.key);
      const entry = id ? this.#entries.get(id) : undefined;
      if (entry && entry.storedAt === undefined) entry.storedAt = Date.now();
    };
    dc.rules.on('handled', onHandled);
    dc.rules.on('error', onRulesError);
    dc.store.on('updated', onUpdate);
    dc.s3.events.on('object', onObject);
    this.#unsubscribe = () => {
      dc.rules.off('handled', onHandled);
      dc.rules.off('error', onRulesError);
      dc.store.off('updated', onUpdate);
      dc.s3.events.off('object', onObject);
    };
  }

  /** Records a request; `at` is when it was asked for (an operator's call starts before the handler returns). */
  add(thing: string, id: string, key: string, at: number): void {
    const known = this.#entries.get(id);
    if (known) {
      known.at = Math.min(known.at, at);
      return;
    }
    this.#entries.set(id, { thing, key, at, statuses: new Set(), superseded: false });
    this.#byKey.set(key, id);
  }

  #onUpdate(thing: string, result: UpdateResult): void {
    if ((result.accepted.state['reported'] as { connected?: unknown } | undefined)?.connected !== undefined) this.#presenceSeen += 1;
    const written = snapshotOf(result.accepted.state['reported'])?.id;
    if (typeof written === 'string') {
      const entry = this.#entries.get(written);
      const status = snapshotOf(result.documents.current.state.reported)?.status;
      if (entry && entry.thing === thing) {
        entry.statuses.add(typeof status === 'string' ? status : '?');
        this.#settle(written);
      }
    }
    const before = snapshotOf(result.documents.previous?.state.desired)?.id;
    const after = snapshotOf(result.documents.current.state.desired)?.id;
    if (typeof before === 'string' && before !== after) {
      const entry = this.#entries.get(before);
      if (entry && entry.statuses.size === 0) {
        entry.superseded = true;
        this.#settle(before);
      }
    }
  }

  #settle(id: string): void {
    const waiter = this.#settledWaiters.get(id);
    if (waiter) {
      this.#settledWaiters.delete(id);
      waiter();
    }
  }

  /** Settled: reported, or superseded by a newer request before any report. */
  isSettled(id: string): boolean {
    const e = this.#entries.get(id);
    return e !== undefined && (e.statuses.size > 0 || e.superseded);
  }

  /** Resolves true once `id` is settled, false after `timeoutMs`. */
  waitSettled(id: string, timeoutMs: number): Promise<boolean> {
    if (this.isSettled(id)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#settledWaiters.delete(id);
        resolve(false);
      }, timeoutMs);
      this.#settledWaiters.set(id, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /**
   * Waits until the rules have finished every handler call that presence started and every request
   * is settled; false if that takes longer than `timeoutMs`. A presence message reaches the shadow
   * before its handler call has made the request, so "no unsettled request" alone is not the end.
   */
  async quiesce(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const open = this.unsettled();
      if (open.length === 0 && this.#rulesFinished >= this.#presenceSeen) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      if (open.length > 0) await Promise.all(open.map((id) => this.waitSettled(id, left)));
      else await this.#nextRulesResult(left);
    }
  }

  #nextRulesResult(timeoutMs: number): Promise<void> {
    const rules = this.dc.rules;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        rules.off('handled', done);
        rules.off('error', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      rules.on('handled', done);
      rules.on('error', done);
    });
  }

  /** Ids not settled yet. */
  unsettled(): string[] {
    return [...this.#entries.keys()].filter((id) => !this.isSettled(id));
  }

  summary(): FleetLedgerSummary {
    const byStatus: Record<string, number> = {};
    const latencies: number[] = [];
    let delivered = 0;
    const lost: string[] = [];
    const duplicates: string[] = [];
    const uploadedWithoutObject: string[] = [];
    for (const [id, e] of this.#entries) {
      for (const s of e.statuses) byStatus[s] = (byStatus[s] ?? 0) + 1;
      if (e.statuses.size > 1) duplicates.push(`${id}: reports ${[...e.statuses].join(', ')}`);
      if (e.statuses.size === 0 && !e.superseded) lost.push(`${e.thing} ${id}`);
      const objects = this.#objects.get(e.key) ?? 0;
      if (e.statuses.has('uploaded')) {
        if (objects === 1) delivered += 1;
        else uploadedWithoutObject.push(`${id}: ${objects} objects`);
      }
      if (e.storedAt !== undefined) latencies.push(e.storedAt - e.at);
    }
    for (const [key, n] of this.#objects) {
      if (n > 1) duplicates.push(`${key} x${n}`);
      if (!this.#byKey.has(key)) duplicates.push(`${key}: stored, never requested`);
    }
    return {
      requested: this.#entries.size,
      delivered,
      byStatus,
      superseded: [...this.#entries.values()].filter((e) => e.superseded && e.statuses.size === 0).length,
      lost,
      duplicates,
      uploadedWithoutObject,
      latenciesMs: latencies.sort((a, b) => a - b),
    };
  }

  stop(): void {
    this.#unsubscribe();
  }
}
