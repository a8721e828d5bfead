import { mkdtemp, readFile, rm, writeFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JournalWriteError, RequestJournal } from './request-journal.js';
import type { SnapshotReport } from '../protocol/snapshot.js';

const report = (id: string): SnapshotReport => ({ id, status: 'uploaded', bytes: 1, key: `k/${id}`, ms: 1, error: null, at: '2026-11-27T00:00:00.000Z' });

describe('RequestJournal', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-journal-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('remembers started and done ids across a reopen, in a 0600 file', async () => {
    const j = await RequestJournal.open(dir);
    await j.begin('a');
    await j.begin('b');
    await j.finish(report('b'));
    const again = await RequestJournal.open(dir);
    expect(again.get('a')?.state).toBe('started');
    expect(again.get('b')).toMatchObject({ state: 'done', report: report('b') });
    expect(again.get('c')).toBeUndefined();
    expect((await stat(j.file)).mode & 0o777).toBe(0o600);
  });

  it('lists as interrupted the ids a previous run started and never finished, with their key', async () => {
    const j = await RequestJournal.open(dir);
    expect(j.interrupted).toEqual([]);
    await j.begin('a', 'cam/a.jpg');
    await j.begin('b', 'cam/b.jpg');
    await j.finish(report('b'));
    await j.begin('c');
    const again = await RequestJournal.open(dir);
    expect(again.interrupted).toEqual(['a', 'c']);
    expect(again.get('a')).toMatchObject({ state: 'started', key: 'cam/a.jpg' });
    await again.finish(report('a'));
    expect(again.interrupted).toEqual(['a', 'c']); // what was found at open; the caller checks get()
    expect((await RequestJournal.open(dir)).interrupted).toEqual(['c']);
  });

  it('keeps only the newest entries', async () => {
    const j = await RequestJournal.open(dir, 3);
    for (const id of ['1', '2', '3', '4', '5']) await j.begin(id);
    const again = await RequestJournal.open(dir, 3);
    expect(['1', '2', '3', '4', '5'].map((id) => again.get(id) !== undefined)).toEqual([false, false, true, true, true]);
  });

  it('refuses a damaged journal with the way out, instead of forgetting handled ids', async () => {
    await writeFile(path.join(dir, 'requests.json'), '{"schema":1,"entries":[{"id":"a"');
    await expect(RequestJournal.open(dir)).rejects.toThrow(/not valid JSON; move it away/);
  });

  it('reports a write it cannot make durable, and does not pretend the id was journalled', async () => {
    const j = await RequestJournal.open(dir);
    await j.begin('kept');
    await rm(dir, { recursive: true, force: true }); // the state dir vanished under the agent
    await expect(j.begin('lost')).rejects.toBeInstanceOf(JournalWriteError);
    expect(j.get('lost')).toBeUndefined();
    expect(j.get('kept')?.state).toBe('started');
  });

  it('serialises concurrent writes so the newest state lands last', async () => {
    const j = await RequestJournal.open(dir);
    await Promise.all([j.begin('x'), j.finish(report('x')), j.begin('y')]);
    const onDisk = JSON.parse(await readFile(j.file, 'utf8')) as { entries: { id: string; state: string }[] };
    expect(onDisk.entries).toEqual([expect.objectContaining({ id: 'x', state: 'done' }), expect.objectContaining({ id: 'y', state: 'started' })]);
  });
});
