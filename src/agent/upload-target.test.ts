import { describe, expect, it } from 'vitest';
import { checkUploadTarget } from './upload-target.js';

const policy = { allowedHosts: ['*.amazonaws.com', 'uploads.example.com', '127.0.0.1:9000'], insecureHttpHosts: ['127.0.0.1'] };

describe('checkUploadTarget', () => {
  it.each([
    ['https://my-bucket.s3.amazonaws.com/', true],
    ['https://my-bucket.s3.eu-west-1.amazonaws.com/', true],
    ['https://uploads.example.com/x', true],
    ['http://127.0.0.1:9000/bucket', true],
    ['https://amazonaws.com/', false], // *.suffix needs a subdomain
    ['https://evilamazonaws.com/', false],
    ['https://amazonaws.com.evil.net/', false],
    ['http://my-bucket.s3.amazonaws.com/', false], // http not allowed for that host
    ['http://127.0.0.1:9001/bucket', false], // port must match the host:port entry
    ['https://169.254.169.254/latest/meta-data', false],
    ['file:///etc/passwd', false],
    ['ftp://uploads.example.com/', false],
    ['https://user:pw@uploads.example.com/', false],
    ['not a url', false],
  ])('%s -> %s', (url, ok) => {
    const r = checkUploadTarget(url, policy);
    expect(r.ok).toBe(ok);
    if (!r.ok) expect(r.error.length).toBeGreaterThan(10);
  });

  it('names the setting that would allow a refused host', () => {
    const r = checkUploadTarget('https://other.example.net/', policy);
    expect(r).toEqual({ ok: false, error: expect.stringContaining('snapshot.allowedUploadHosts') as unknown });
  });
});
