import { describe, expect, it } from 'vitest';
import { S3Error } from './errors.js';
import { checkPolicy, decodePolicy, type FormField } from './policy.js';

const b64 = (doc: unknown): string => Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)).toString('base64');
const NOW = Date.UTC(2026, 0, 1);
const ctx = { bucket: 'bkt', key: 'things/a/1.jpg', now: NOW };

function outcome(fn: () => unknown): string {
  try {
    const r = fn();
    return `ok ${JSON.stringify(r)}`;
  } catch (err) {
    if (err instanceof S3Error) return `${err.status} ${err.code}: ${err.message}`;
    throw err;
  }
}

function check(conditions: unknown[], fields: FormField[], over: Partial<typeof ctx> = {}): string {
  return outcome(() => checkPolicy(decodePolicy(b64({ expiration: '2026-01-01T00:10:00Z', conditions })), fields, { ...ctx, ...over }));
}

describe('decodePolicy', () => {
  it('names what is wrong with a malformed policy', () => {
    expect(outcome(() => decodePolicy('not base64!'))).toBe('400 InvalidPolicyDocument: Invalid Policy: Policy is not valid base64.');
    expect(outcome(() => decodePolicy(b64('{nope')))).toBe('400 InvalidPolicyDocument: Invalid Policy: Invalid JSON.');
    expect(outcome(() => decodePolicy(b64({ conditions: [] })))).toBe('400 InvalidPolicyDocument: Invalid Policy: Policy missing expiration.');
    expect(outcome(() => decodePolicy(b64({ expiration: 'tomorrow', conditions: [] })))).toMatch(/Invalid 'expiration' value: "tomorrow"/);
    expect(outcome(() => decodePolicy(b64({ expiration: '2026-01-01T00:00:00Z' })))).toMatch(/Policy missing conditions/);
    expect(outcome(() => decodePolicy(b64({ expiration: '2026-01-01T00:00:00Z', conditions: [['in', '$key', ['a']]] })))).toMatch(
      /Invalid Condition: \["in","\$key",\["a"\]\]/,
    );
    expect(outcome(() => decodePolicy(b64({ expiration: '2026-01-01T00:00:00Z', conditions: [['content-length-range', 10, 1]] })))).toMatch(
      /Invalid Condition/,
    );
  });
});

describe('checkPolicy', () => {
  it('refuses an expired policy', () => {
    expect(check([], [], { now: Date.UTC(2026, 0, 1, 0, 10) })).toBe('403 AccessDenied: Invalid according to Policy: Policy expired.');
  });

  it('matches exact, starts-with and object conditions; field names case-insensitively', () => {
    const fields = [
      { name: 'key', value: 'things/a/1.jpg' },
      { name: 'content-type', value: 'image/jpeg' },
      { name: 'X-Amz-Meta-Tag', value: 'night' },
    ];
    expect(check([{ bucket: 'bkt' }, ['starts-with', '$key', 'things/a/'], { 'Content-Type': 'image/jpeg' }, ['eq', '$x-amz-meta-tag', 'night']], fields)).toBe('ok {}');
  });

  it('reports the first failed condition in S3 spelling', () => {
    expect(check([{ bucket: 'other' }], [])).toBe('403 AccessDenied: Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "other"]');
    expect(check([['starts-with', '$key', 'things/b/']], [{ name: 'key', value: 'x' }])).toBe(
      '403 AccessDenied: Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "things/b/"]',
    );
    expect(check([['eq', '$x-amz-meta-a', 'v']], [])).toMatch(/Policy Condition failed: \["eq", "\$x-amz-meta-a", "v"\]/);
  });

  it('checks each value of a comma-separated Content-Type against starts-with', () => {
    const cond = [['starts-with', '$Content-Type', 'image/']];
    expect(check(cond, [{ name: 'Content-Type', value: 'image/jpeg, image/png' }])).toBe('ok {}');
    expect(check(cond, [{ name: 'Content-Type', value: 'image/jpeg, text/html' }])).toMatch(/Policy Condition failed/);
  });

  it('lets ["starts-with", "$f", ""] match anything', () => {
    expect(check([['starts-with', '$x-amz-meta-any', '']], [{ name: 'x-amz-meta-any', value: 'whatever' }])).toBe('ok {}');
  });

  it('refuses fields that no condition covers, except file, policy, x-amz-signature and x-ignore-*', () => {
    const fields = [
      { name: 'Policy', value: 'p' },
      { name: 'X-Amz-Signature', value: 's' },
      { name: 'x-ignore-note', value: 'n' },
      { name: 'acl', value: 'public-read' },
      { name: 'X-Amz-Meta-Who', value: 'me' },
    ];
    expect(check([], fields)).toBe('403 AccessDenied: Invalid according to Policy: Extra input fields: acl, X-Amz-Meta-Who');
    expect(check([{ acl: 'public-read' }, ['starts-with', '$x-amz-meta-who', '']], fields)).toBe('ok {}');
  });

  it('returns the narrowest content-length-range', () => {
    expect(check([['content-length-range', 1, 100], ['content-length-range', '10', '1000']], [])).toBe('ok {"minBytes":10,"maxBytes":100}');
  });
});
