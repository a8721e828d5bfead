import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { captureLog } from '../../../../test/helpers/agent-connection-kit.js';
import { FakeShadowLink, snapshotRequest } from '../../../../test/helpers/fake-shadow-link.js';
import { ShadowClient } from '../../../protocol/shadow-client.js';
import type { SnapshotReport } from '../../../protocol/snapshot.js';
import { RequestJournal } from '../../request-journal.js';
import { createReporter, finalReport, type Reporter } from './reporter.js';

describe('snapshot reporter: report, clear desired only while it holds the request, 409s, lost reports', () => {
  let dir: string;
  let link: FakeShadowLink;
  let shadow: ShadowClient;
  let journal: RequestJournal;
  let reporter: Reporter;
  let newer: boolean;
  let unreportedCalls: number;
  const reports: SnapshotReport[] = [];
  const captured = captureLog();

  /** The cloud writes a request; resolves once the agent's client has seen its delta. */
  const cloudRequests = async (id: string): Promise<void> => {
    const delta = once(shadow, 'delta');
    link.cloudUpdate({ desired: { snapshot: snapshotRequest(id) } });
    await delta;
  };
  const uploaded = (id: string): SnapshotReport => finalReport({ request: snapshotRequest(id), receivedAt: Date.now() }, 'uploaded', new Date(), { bytes: 10 });
  const updates = (): { version?: unknown; state: unknown }[] => link.requests.filter((r) => r.topic.endsWith('/update')).map((r) => r.body as { version?: unknown; state: unknown });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-reporter-'));
    link = new FakeShadowLink({ thing: 'cam-1', shadow: 'cloudcam' });
    shadow = new ShadowClient(link, 'cam-1', 'cloudcam', 2000);
    await shadow.subscribe();
    journal = await RequestJournal.open(dir);
    newer = false;
    unreportedCalls = 0;
    reports.length = 0;
    reporter = createReporter({ shadow, journal, log: captured.log, newerWaiting: () => newer, onUnreported: () => unreportedCalls++, retryMs: 3000, onReport: (r) => reports.push(r) });
  });
  afterEach(async () => {
    shadow.close();
    await journal.settled(); // superseded() journals without waiting; its write must not race the rm
    await rm(dir, { recursive: true, force: true });
  });

  it('journals the status, writes reported and clears desired in one update conditional on the known version', async () => {
    await cloudRequests('a');
    const known = shadow.version;
    await reporter.finish(uploaded('a'));
    expect(link.state().desired?.['snapshot']).toBeUndefined();
    expect(link.state().reported?.['snapshot']).toMatchObject({ id: 'a', status: 'uploaded' });
    const ups = updates();
    expect(ups).toHaveLength(1);
    expect(ups[0]).toMatchObject({ state: { reported: { snapshot: { id: 'a' } }, desired: { snapshot: null } }, version: known });
    expect(journal.get('a')).toMatchObject({ state: 'done', report: { id: 'a' } });
    expect(reports.map((r) => r.id)).toEqual(['a']);
  });

  it('409 (another client wrote meanwhile, unseen): reads the shadow again and clears desired, which still holds this request', async () => {
    await cloudRequests('a');
    link.holdDeltas();
    link.cloudUpdate({ reported: { firmware: '12.1' } }); // the version moves on; the agent's client has not seen it
    await reporter.finish(uploaded('a'));
    link.releaseDeltas();
    const ups = updates();
    expect(ups).toHaveLength(2);
    expect(ups[1]!.version).toBe((ups[0]!.version as number) + 1);
    expect(link.requests.filter((r) => r.topic.endsWith('/get'))).toHaveLength(1);
    expect(link.state().desired?.['snapshot']).toBeUndefined();
    expect(link.state().reported?.['snapshot']).toMatchObject({ id: 'a' });
  });

  it('409 because a newer request was written meanwhile (its delta still on the way): reports without wiping the newer request', async () => {
    await cloudRequests('a');
    link.holdDeltas();
    link.cloudUpdate({ desired: { snapshot: snapshotRequest('b') } });
    await reporter.finish(uploaded('a'));
    expect(link.state().desired?.['snapshot']).toMatchObject({ id: 'b' });
    expect(link.state().reported?.['snapshot']).toMatchObject({ id: 'a' });
    expect(updates().at(-1)).not.toHaveProperty('version');
    link.releaseDeltas();
  });

  it('while a newer request waits in the queue, the report does not clear desired', async () => {
    await cloudRequests('a');
    await cloudRequests('b');
    newer = true;
    await reporter.finish(uploaded('a'));
    expect(link.state().desired?.['snapshot']).toMatchObject({ id: 'b' });
    const ups = updates();
    expect(ups).toHaveLength(1);
    expect(ups[0]).toMatchObject({ state: { reported: { snapshot: { id: 'a' } } } });
    expect(ups[0]).not.toHaveProperty('version');
    expect(ups[0]!.state).not.toHaveProperty('desired');
  });

  it('a report that cannot be sent is kept, and sent (clearing desired) once the connection is back', async () => {
    await cloudRequests('a');
    link.connected = false;
    await reporter.finish(uploaded('a'));
    expect(reporter.unreported).toBe(1);
    expect(unreportedCalls).toBe(1);
    expect(captured.lines.some((l) => l['event'] === 'snapshot.report-failed' && l['id'] === 'a')).toBe(true);
    expect(reports.map((r) => r.id)).toEqual(['a']); // the status is final even though the shadow has not heard it yet
    expect(journal.get('a')?.state).toBe('done');
    link.connected = true;
    await reporter.retryUnreported();
    expect(reporter.unreported).toBe(0);
    expect(link.state().desired?.['snapshot']).toBeUndefined();
    expect(link.state().reported?.['snapshot']).toMatchObject({ id: 'a', status: 'uploaded' });
  });

  it('a kept report whose request was replaced meanwhile is sent without clearing the newer one', async () => {
    await cloudRequests('a');
    link.connected = false;
    await reporter.finish(uploaded('a'));
    link.connected = true;
    await cloudRequests('b');
    await reporter.retryUnreported();
    expect(link.state().desired?.['snapshot']).toMatchObject({ id: 'b' });
    expect(link.state().reported?.['snapshot']).toMatchObject({ id: 'a' });
  });

  it('a superseded request is journalled and reported rejected, desired left to the newer one', async () => {
    await cloudRequests('b');
    const rep = finalReport({ request: snapshotRequest('a'), receivedAt: Date.now() }, 'rejected', new Date(), { error: 'superseded by newer request b' });
    const written = new Promise<void>((resolve) => link.store.once('updated', () => resolve()));
    reporter.superseded(rep);
    await written;
    expect(link.state().desired?.['snapshot']).toMatchObject({ id: 'b' });
    expect(link.state().reported?.['snapshot']).toMatchObject({ id: 'a', status: 'rejected' });
    expect(reports.map((r) => r.status)).toEqual(['rejected']);
  });
});
