import { describe, expect, it } from 'vitest';
import type { JobExecution } from '../../../protocol/jobs.js';
import type { UploadGrant } from '../../../protocol/upload-grant.js';
import type { QueuedEvent } from '../events/queue.js';
import type { JobRun } from './operation.js';
import { createSnapshotOperation } from './snapshot-operation.js';

const grant: UploadGrant = { url: 'https://bucket.example/', fields: { key: 'cam-1/events/${filename}' }, keyPrefix: 'cam-1/events/', expiresAt: '2026-12-01T08:00:00.000Z', maxBytes: 1_000_000 };
const execution: JobExecution = { jobId: 'diag-1', thingName: 'cam-1', status: 'IN_PROGRESS', queuedAt: 1, lastUpdatedAt: 1, versionNumber: 2, executionNumber: 1 };
const run: JobRun = { jobId: 'diag-1', document: { operation: 'cloudcam.snapshot' }, statusDetails: {}, execution, signal: new AbortController().signal, progress: async () => undefined };
const at = new Date('2026-12-01T07:30:00.123Z');

describe('cloudcam.snapshot', () => {
  it('captures and uploads under the events prefix as a diagnostics picture; statusDetails carries the key', async () => {
    const uploads: QueuedEvent[] = [];
    const op = createSnapshotOperation({
      thing: 'cam-1',
      now: () => at,
      grant: async () => grant,
      capture: async () => Buffer.from('jpeg'),
      upload: async (_g, entry) => (uploads.push(entry), { ok: true, ms: 12 }),
    });
    const outcome = await op.run(run);
    const key = 'cam-1/events/2026/12/01/20261201T073000123Z-diagnostics.jpg';
    expect(outcome).toEqual({ status: 'SUCCEEDED', details: { key, bytes: '4', uploadMs: '12' } });
    expect(uploads).toEqual([{ seq: 0, key, trigger: 'diagnostics', topic: 'job:diag-1', eventTime: at.toISOString(), bytes: 4 }]);
  });

  it('hands the JPEG\'s memory back once uploaded (issue 21), not before the upload is done with it', async () => {
    const jpeg = Buffer.alloc(200_000, 0xab);
    let lengthDuringUpload = -1;
    const op = createSnapshotOperation({
      thing: 'cam-1',
      now: () => at,
      grant: async () => grant,
      capture: async () => jpeg,
      upload: async (_g, _entry, file) => ((lengthDuringUpload = file.length), { ok: true, ms: 3 }),
    });
    const outcome = await op.run(run);
    expect(outcome.details['bytes']).toBe('200000');
    expect(lengthDuringUpload).toBe(200_000);
    expect(jpeg.length).toBe(0);
  });

  it('fails with the reason when no upload grant is valid, without capturing', async () => {
    let captured = false;
    const op = createSnapshotOperation({ thing: 'cam-1', grant: async () => undefined, capture: async () => ((captured = true), Buffer.from('x')), upload: async () => ({ ok: true, ms: 1 }) });
    const outcome = await op.run(run);
    expect(outcome.status).toBe('FAILED');
    expect(outcome.details['reason']).toContain('no valid upload grant');
    expect(captured).toBe(false);
  });

  it('a refused upload ends FAILED with the uploader\'s reason and the key it tried', async () => {
    const op = createSnapshotOperation({ thing: 'cam-1', now: () => at, grant: async () => grant, capture: async () => Buffer.from('x'), upload: async () => ({ ok: false, grantRefused: true, error: 'S3 AccessDenied (HTTP 403): expired' }) });
    const outcome = await op.run(run);
    expect(outcome).toMatchObject({ status: 'FAILED', details: { reason: 'upload failed: S3 AccessDenied (HTTP 403): expired', key: expect.stringContaining('-diagnostics.jpg') as unknown } });
  });
});
