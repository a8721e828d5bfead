/**
 * Accounts for every snapshot request in a devcloud run: which were created (by the cloud rules on
 * presence, or by the test), what the shadow was told about each (reported.snapshot), which the cloud
 * overwrote in desired before the agent took them, and how many S3 objects each key received.
 */
import type { Devcloud } from '../../src/devcloud/devcloud.js';
import type { UpdateResult } from '../../src/devcloud/shadow/store.js';
import type { S3StoredObject } from '../../src/devcloud/s3/server.js';
import type { SnapshotRequest } from '../../src/protocol/snapshot.js';
import { nextCloudRequest } from './devcloud.js';

export interface LedgerSummary {
  created: number;
  reported: number;
  byStatus: Record<string, number>;
  /** Replaced in desired by a newer request before the agent ever received it (cloud semantics). */
  overwrittenUnseen: number;
  /** Created, never reported, not overwritten unseen: lost. Must be 0. */
  lost: string[];
  /** Ids whose reports disagree (more than one distinct status). Must be empty. */
  inconsistent: string[];
  /** Keys with more than one stored object. Must be empty. */
  duplicateUploads: string[];
  /** Ids reported uploaded without exactly one object. Must be empty. */
  uploadedWithoutObject: string[];
}

function snapshotId(v: unknown): string | undefined {
  const id = (v as { snapshot?: { id?: unknown } } | undefined)?.snapshot?.id;
  return typeof id === 'string' ? id : undefined;
}

export class RequestLedger {
  readonly requests = new Map<string, SnapshotRequest>();
  readonly statuses = new Map<string, Set<string>>();
  readonly overwritten = new Set<string>();
  readonly objects = new Map<string, number>();
  /** The agent's reason for each request it reported as not uploaded (for a failing test's message). */
  readonly errors = new Map<string, string>();
  private waiters: { id: string; resolve: (status: string) => void }[] = [];

  constructor(
    private readonly dc: Devcloud,
    private readonly thing: string,
    /** Whether the agent ever received the id (its `snapshot.received` log line). */
    private readonly receivedByAgent: (id: string) => boolean,
  ) {
    dc.rules.on('handled', (r) => {
      if (r.action === 'requested' && r.thing === thing) this.add(r.request);
    });
    dc.store.on('updated', (key, result: UpdateResult) => this.onUpdate(key.thing, result));
    dc.s3.events.on('object', (o: S3StoredObject) => this.objects.set(o.key, (this.objects.get(o.key) ?? 0) + 1));
  }

  /** The next request the cloud rules make (e.g. on presence online after a reconnect). */
  nextCloudRequest(): Promise<SnapshotRequest> {
    return nextCloudRequest(this.dc, this.thing);
  }

  add(request: SnapshotRequest): void {
    this.requests.set(request.id, request);
  }

  private onUpdate(thing: string, result: UpdateResult): void {
    if (thing !== this.thing) return;
    const written = snapshotId(result.accepted.state['reported']);
    if (written) {
      const reported = (result.documents.current.state.reported as { snapshot?: { status?: string; error?: string } } | undefined)?.snapshot;
      const status = reported?.status ?? '?';
      if (reported?.error !== undefined) this.errors.set(written, reported.error);
      let set = this.statuses.get(written);
      if (!set) this.statuses.set(written, (set = new Set()));
      set.add(status);
      for (const w of this.waiters.filter((x) => x.id === written)) w.resolve(status);
      this.waiters = this.waiters.filter((x) => x.id !== written);
    }
    const before = snapshotId(result.documents.previous?.state.desired);
    const after = snapshotId(result.documents.current.state.desired);
    if (before && after && before !== after && !this.statuses.has(before)) this.overwritten.add(before);
  }

  /** Resolves with the first reported status of `id`. */
  waitForStatus(id: string, timeoutMs = 20_000): Promise<string> {
    const known = this.statuses.get(id);
    if (known) return Promise.resolve([...known][0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no report for ${id} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        id,
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
      });
    });
  }

  summary(): LedgerSummary {
    const byStatus: Record<string, number> = {};
    for (const set of this.statuses.values()) for (const s of set) byStatus[s] = (byStatus[s] ?? 0) + 1;
    const unseen = [...this.requests.keys()].filter((id) => !this.statuses.has(id) && this.overwritten.has(id) && !this.receivedByAgent(id));
    return {
      created: this.requests.size,
      reported: [...this.requests.keys()].filter((id) => this.statuses.has(id)).length,
      byStatus,
      overwrittenUnseen: unseen.length,
      lost: [...this.requests.keys()].filter((id) => !this.statuses.has(id) && !unseen.includes(id)),
      inconsistent: [...this.statuses].filter(([, s]) => s.size > 1).map(([id, s]) => `${id}: ${[...s].join(', ')}`),
      duplicateUploads: [...this.objects].filter(([, n]) => n > 1).map(([k, n]) => `${k} x${n}`),
      uploadedWithoutObject: [...this.statuses]
        .filter(([id, s]) => s.has('uploaded') && this.objects.get(this.requests.get(id)?.fields['key'] ?? '') !== 1)
        .map(([id]) => id),
    };
  }
}
