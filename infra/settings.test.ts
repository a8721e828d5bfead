import { describe, expect, it } from 'vitest';
import { readSettings, SettingsError } from './settings.js';

const from = (context: Record<string, unknown>) => readSettings((key) => context[key]);

function problems(context: Record<string, unknown>): string[] {
  try {
    from(context);
  } catch (err) {
    if (err instanceof SettingsError) return err.problems;
    throw err;
  }
  throw new Error('expected a SettingsError');
}

describe('stack settings from CDK context', () => {
  it('nothing given: the defaults (no viewer, the stack decides)', () => {
    expect(from({})).toEqual({ stackName: 'Cloudcam', stack: {}, viewer: {} });
  });

  it('every setting, as the CLI passes them (strings)', () => {
    const cert = 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
    expect(
      from({
        stackName: 'Cams',
        shadowName: 'cam',
        snapshotRetentionDays: '14',
        allowedSerials: 'ACCC8E000001, ACCC8E000002',
        viewerOrigins: 'https://a.example',
        handlerConcurrency: 'off',
        accessLogRetentionDays: '30',
        viewerDomainPrefix: 'my-cams',
        viewerMfa: 'required',
        viewerApiRateLimit: '10',
        viewerApiBurstLimit: '20',
        viewerApiConcurrency: '5',
        viewerDomainName: 'viewer.example.com',
        viewerCertificateArn: cert,
        viewerWafRateLimit: 2000,
      }),
    ).toEqual({
      stackName: 'Cams',
      stack: { shadowName: 'cam', snapshotRetentionDays: 14, allowedSerials: ['ACCC8E000001', 'ACCC8E000002'], viewerOrigins: ['https://a.example'], handlerConcurrency: 'off', accessLogRetentionDays: 30 },
      viewerDomainPrefix: 'my-cams',
      viewer: { mfa: 'required', apiThrottle: { rateLimit: 10, burstLimit: 20 }, apiConcurrency: 5, domain: { name: 'viewer.example.com', certificateArn: cert }, wafRateLimit: 2000 },
    });
  });

  it('every wrong value at once, each naming the key and an example that works', () => {
    const found = problems({
      snapshotRetentionDays: '0',
      viewerMfa: 'sms',
      viewerApiRateLimit: '10',
      viewerApiConcurrency: '-1',
      viewerDomainName: 'viewer.example.com',
      viewerWafRateLimit: '5',
      handlerConcurrency: 'lots',
    });
    expect(found).toEqual([
      expect.stringMatching(/^snapshotRetentionDays is "0".*-c snapshotRetentionDays=30$/),
      expect.stringMatching(/^handlerConcurrency is "lots".*-c handlerConcurrency=20$/),
      expect.stringMatching(/^viewerMfa is "sms": give one of required, optional, off/),
      expect.stringMatching(/^viewerApiRateLimit and viewerApiBurstLimit go together/),
      expect.stringMatching(/^viewerApiConcurrency is "-1"/),
      expect.stringMatching(/^viewerDomainName and viewerCertificateArn go together/),
      expect.stringMatching(/^viewerWafRateLimit is "5": give a whole number from 10/),
    ]);
    expect(problems({ viewerApiRateLimit: '50', viewerApiBurstLimit: '10' })).toEqual([expect.stringMatching(/burst .*at least the rate/i)]);
  });
});
