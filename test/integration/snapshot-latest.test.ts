import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createS3Client } from '../../src/cloud/handler.js';
import { findLatestSnapshot } from '../../src/cloud/latest-snapshot.js';
import { snapshotLatestCommand } from '../../src/cli/snapshot-command.js';
import { requestSnapshot, startTestAgent, startTestDevcloud, waitForReport, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import type { SnapshotRequest } from '../../src/protocol/snapshot.js';
import { eventKey } from '../../src/protocol/upload-grant.js';
import { uploadEventPictures } from '../helpers/event-upload.js';

const thing = 'camera-1';

/** Runs a command in-process and returns its exit code and what it wrote to stdout and stderr. */
async function runCommand(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    return { code: await snapshotLatestCommand.run(argv), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('snapshot latest: the newest snapshot of a thing, as a presigned GET, end to end on devcloud', () => {
  let t: TestDevcloud;
  let a: TestAgent;
  let newest: SnapshotRequest;

  beforeAll(async () => {
    t = await startTestDevcloud({ broker: 'aedes', cameras: 2 });
    const online = new Promise<SnapshotRequest>((resolve) => {
      t.dc.rules.on('handled', (r) => {
        if (r.action === 'requested' && r.thing === thing) resolve(r.request);
      });
    });
    a = await startTestAgent(t.dc, thing);
    const first = await online;
    await waitForReport(t.dc, thing, first.id);
    newest = await requestSnapshot(t.dc, thing);
    const report = await waitForReport(t.dc, thing, newest.id);
    expect(report.status).toBe('uploaded');
  });
  afterAll(async () => {
    await a?.stop();
    await t?.cleanup();
  });

  it('finds the newest of two uploads; its URL downloads exactly that JPEG', async () => {
    const s3 = createS3Client({ region: t.dc.info.region, s3Endpoint: t.dc.info.s3.url, credentials: t.dc.info.s3 });
    const latest = await findLatestSnapshot(s3, { bucket: t.dc.info.s3.bucket, thing, expiresInSeconds: 60 });
    s3.destroy();
    expect(latest?.key).toBe(newest.fields['key']);
    const onDisk = await readFile(path.join(t.dc.info.s3.dir, t.dc.info.s3.bucket, newest.fields['key']!));
    const res = await fetch(latest!.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.equals(onDisk)).toBe(true);
    expect(body.subarray(0, 2).toString('hex')).toBe('ffd8');
    expect(latest?.bytes).toBe(onDisk.length);
  });

  it('still finds it when the newest is older than yesterday (falls back to the whole prefix)', async () => {
    const s3 = createS3Client({ region: t.dc.info.region, s3Endpoint: t.dc.info.s3.url, credentials: t.dc.info.s3 });
    const later = new Date(Date.now() + 10 * 24 * 3600 * 1000);
    const latest = await findLatestSnapshot(s3, { bucket: t.dc.info.s3.bucket, thing, expiresInSeconds: 60, now: later });
    s3.destroy();
    expect(latest?.key).toBe(newest.fields['key']);
  });

  it('the CLI prints the URL alone on stdout and the key on stderr', async () => {
    const r = await runCommand(['--thing', thing, '--devcloud', t.dir, '--expires', '120']);
    expect(r.code).toBe(0);
    const url = r.stdout.trim();
    expect(url.split('\n')).toHaveLength(1);
    expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('120');
    expect(r.stderr).toContain(`s3://${t.dc.info.s3.bucket}/${newest.fields['key']}`);
    expect((await fetch(url)).status).toBe(200);
  });

  it('leaves event snapshots out (their keys sort after the dated ones); --events finds the newest event picture, not its pre-event frame', async () => {
    const jpeg = await readFile(path.join(t.dc.info.s3.dir, t.dc.info.s3.bucket, newest.fields['key']!));
    const at = (ms: number) => new Date(Date.now() - ms);
    const keys = [eventKey(thing, 'motion', at(2000)), eventKey(thing, 'motion', at(1000), 'pre'), eventKey(thing, 'motion', at(1000))];
    await uploadEventPictures(t.dc, thing, keys, jpeg);
    const s3 = createS3Client({ region: t.dc.info.region, s3Endpoint: t.dc.info.s3.url, credentials: t.dc.info.s3 });
    const find = (events?: boolean) => findLatestSnapshot(s3, { bucket: t.dc.info.s3.bucket, thing, expiresInSeconds: 60, events });
    expect((await find())?.key).toBe(newest.fields['key']);
    expect((await find(true))?.key).toBe(keys[2]);
    s3.destroy();
    const cli = await runCommand(['--thing', thing, '--devcloud', t.dir, '--events']);
    expect(cli.code).toBe(0);
    expect(cli.stderr).toContain(`s3://${t.dc.info.s3.bucket}/${keys[2]}`);
    const none = await runCommand(['--thing', 'camera-2', '--devcloud', t.dir, '--events']);
    expect(none.stderr).toContain('no event snapshot of camera-2');
  });

  it('says so, with exit code 1, for a thing without snapshots; refuses bad options by name', async () => {
    const none = await runCommand(['--thing', 'camera-2', '--devcloud', t.dir]);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain('no snapshot of camera-2');
    await expect(runCommand(['--thing', thing, '--devcloud', t.dir, '--expires', '604801'])).rejects.toThrow(/--expires 604801 is longer than S3 allows/);
    await expect(runCommand(['--thing', 'no/such', '--devcloud', t.dir])).rejects.toThrow(/not a valid thing name/);
    await expect(runCommand(['--thing', 'camera-9', '--devcloud', t.dir])).rejects.toThrow(/devcloud has no thing "camera-9"/);
  });
});
