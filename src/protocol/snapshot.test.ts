import { describe, expect, it } from 'vitest';
import { isSuperseded, MAX_FORM_FIELDS_BYTES, parsePresence, parseSnapshotRequest, snapshotReportUpdate, supersededReason } from './snapshot.js';

const valid = {
  id: '20261127T120000Z-ab12cd34',
  url: 'https://bucket.s3.amazonaws.com/',
  fields: { key: 'cam-1/2026/11/27/x.jpg', 'Content-Type': 'image/jpeg', Policy: 'eyJ...', 'X-Amz-Signature': 'deadbeef' },
  expiresAt: '2026-11-27T12:05:00.000Z',
  maxBytes: 5_000_000,
};

describe('parseSnapshotRequest', () => {
  it('accepts a well-formed request and copies its fields', () => {
    const r = parseSnapshotRequest({ ...valid, resolution: '1280x720', compression: 30 });
    expect(r).toEqual({ ok: true, value: { ...valid, resolution: '1280x720', compression: 30 } });
  });

  it.each([
    ['not an object', 'nope', /must be an object/],
    ['array', [1], /must be an object/],
    ['missing id', { ...valid, id: undefined }, /snapshot.id/],
    ['id with a slash', { ...valid, id: 'a/b' }, /snapshot.id/],
    ['id too long', { ...valid, id: 'x'.repeat(65) }, /snapshot.id/],
    ['url not a string', { ...valid, url: 5 }, /snapshot.url/],
    ['url not a URL', { ...valid, url: 'not a url' }, /not a valid URL/],
    ['huge url', { ...valid, url: 'https://h/' + 'a'.repeat(5000) }, /at most 2048/],
    ['fields not an object', { ...valid, fields: 'x' }, /snapshot.fields must be an object/],
    ['field value not a string', { ...valid, fields: { key: 'k', n: 1 } }, /snapshot.fields.n must be a string/],
    ['fields carrying file', { ...valid, fields: { key: 'k', file: 'x' } }, /must not contain "file"/],
    ['fields over 20 KB', { ...valid, fields: { key: 'k', big: 'x'.repeat(MAX_FORM_FIELDS_BYTES) } }, /S3 accepts at most/],
    ['no key field', { ...valid, fields: { a: 'b' } }, /fields.key is missing/],
    ['expiresAt not a time', { ...valid, expiresAt: 'soon' }, /expiresAt/],
    ['maxBytes negative', { ...valid, maxBytes: -1 }, /maxBytes/],
    ['maxBytes fractional', { ...valid, maxBytes: 1.5 }, /maxBytes/],
    ['maxBytes as string', { ...valid, maxBytes: '100' }, /maxBytes/],
    ['bad resolution', { ...valid, resolution: '1920*1080' }, /resolution/],
    ['compression over 100', { ...valid, compression: 101 }, /compression/],
    ['extra key', { ...valid, command: 'rm -rf' }, /unknown keys: "command"/],
    ['prototype key', JSON.parse(`{"id":"a","__proto__":{"x":1}}`) as unknown, /unknown keys|snapshot.url/],
  ])('rejects %s', (_name, input, message) => {
    const r = parseSnapshotRequest(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });

  it('keeps the id of a malformed request so it can be reported, and never quotes field values', () => {
    const r = parseSnapshotRequest({ ...valid, fields: { key: 'k', 'X-Amz-Signature': 7 } });
    expect(r).toMatchObject({ ok: false, id: valid.id });
    if (!r.ok) expect(r.error).not.toContain('deadbeef');
  });
});

describe('snapshotReportUpdate', () => {
  it('reports and clears desired.snapshot in one document', () => {
    const report = { id: 'a', status: 'uploaded' as const, bytes: 10, key: 'k', ms: 5, error: null, at: '2026-11-27T00:00:00.000Z' };
    expect(JSON.parse(snapshotReportUpdate(report, 'tok'))).toEqual({
      state: { desired: { snapshot: null }, reported: { snapshot: report } },
      clientToken: 'tok',
    });
  });
});

describe('parsePresence', () => {
  it('accepts online and offline, refuses anything else', () => {
    expect(parsePresence({ state: 'online', at: 'x', agentVersion: '1' })).toEqual({ state: 'online', at: 'x', agentVersion: '1' });
    expect(parsePresence({ state: 'away', at: 'x', agentVersion: '1' })).toBeUndefined();
    expect(parsePresence(null)).toBeUndefined();
  });
});

describe('superseded reports', () => {
  it('are rejected reports with the superseded reason, nothing else', () => {
    expect(supersededReason('r-2')).toBe('superseded by newer request r-2');
    expect(isSuperseded({ status: 'rejected', error: supersededReason('r-2') })).toBe(true);
    expect(isSuperseded({ status: 'failed', error: supersededReason('r-2') })).toBe(false);
    expect(isSuperseded({ status: 'rejected', error: 'expired before it was taken' })).toBe(false);
    expect(isSuperseded({ status: 'rejected', error: null })).toBe(false);
  });
});
