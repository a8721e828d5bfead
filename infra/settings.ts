import type { CloudcamStackProps } from './cloudcam-stack.js';
import type { ViewerMfa, ViewerSettings } from './viewer.js';

/**
 * The stack's settings from CDK context (`-c key=value`, or cdk.json's "context"), checked all at once:
 * every wrong value is reported together, each naming the key, what it got and an example that works
 * (docs/deploy.md lists them).
 */
export interface Settings {
  stackName: string;
  stack: Omit<CloudcamStackProps, 'lambdaDir' | 'viewer'>;
  /** Deploys the viewer when given (its Cognito domain prefix). */
  viewerDomainPrefix?: string;
  viewer: Omit<ViewerSettings, 'webDir' | 'cognitoDomainPrefix'>;
}

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`CDK context: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const MFA: readonly ViewerMfa[] = ['required', 'optional', 'off'];

export function readSettings(context: (key: string) => unknown): Settings {
  const problems: string[] = [];
  const text = (key: string): string | undefined => {
    const v = context(key);
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v === 'string' || typeof v === 'number') return String(v);
    if (Array.isArray(v)) return v.map(String).join(',');
    problems.push(`${key} must be a string, got ${JSON.stringify(v)}`);
    return undefined;
  };
  const list = (key: string): string[] | undefined => text(key)?.split(/[\s,]+/).filter((s) => s !== '');
  const whole = (key: string, example: string, min = 1): number | undefined => {
    const v = text(key);
    if (v === undefined) return undefined;
    if (/^\d+$/.test(v) && Number(v) >= min && Number.isSafeInteger(Number(v))) return Number(v);
    problems.push(`${key} is "${v}": give a whole number from ${min}, e.g. -c ${key}=${example}`);
    return undefined;
  };
  /** Reserved concurrency: a whole number, or "off" for none (accounts whose quota cannot spare any). */
  const concurrency = (key: string, example: string): number | 'off' | undefined => (text(key) === 'off' ? 'off' : whole(key, example));

  const stack: Settings['stack'] = {};
  const shadowName = text('shadowName');
  if (shadowName !== undefined) stack.shadowName = shadowName;
  const retention = whole('snapshotRetentionDays', '30');
  if (retention !== undefined) stack.snapshotRetentionDays = retention;
  const allowedSerials = list('allowedSerials');
  if (allowedSerials !== undefined) stack.allowedSerials = allowedSerials;
  const viewerOrigins = list('viewerOrigins');
  if (viewerOrigins !== undefined) stack.viewerOrigins = viewerOrigins;
  const handlerConcurrency = concurrency('handlerConcurrency', '20');
  if (handlerConcurrency !== undefined) stack.handlerConcurrency = handlerConcurrency;
  const logDays = whole('accessLogRetentionDays', '90');
  if (logDays !== undefined) stack.accessLogRetentionDays = logDays;

  const viewer: Settings['viewer'] = {};
  const mfa = text('viewerMfa');
  if (mfa !== undefined) {
    if ((MFA as readonly string[]).includes(mfa)) viewer.mfa = mfa as ViewerMfa;
    else problems.push(`viewerMfa is "${mfa}": give one of ${MFA.join(', ')}, e.g. -c viewerMfa=required`);
  }
  const rate = whole('viewerApiRateLimit', '25');
  const burst = whole('viewerApiBurstLimit', '50');
  if (rate !== undefined || burst !== undefined) {
    if (rate === undefined || burst === undefined) problems.push('viewerApiRateLimit and viewerApiBurstLimit go together: give both, e.g. -c viewerApiRateLimit=25 -c viewerApiBurstLimit=50');
    else if (burst < rate) problems.push(`viewerApiBurstLimit (${burst}) is below viewerApiRateLimit (${rate}): the burst is the bucket the rate refills, give at least the rate`);
    else viewer.apiThrottle = { rateLimit: rate, burstLimit: burst };
  }
  const apiConcurrency = concurrency('viewerApiConcurrency', '10');
  if (apiConcurrency !== undefined) viewer.apiConcurrency = apiConcurrency;
  const domainName = text('viewerDomainName');
  const certificateArn = text('viewerCertificateArn');
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    problems.push('viewerDomainName and viewerCertificateArn go together: the domain and its ACM certificate in us-east-1, e.g. -c viewerDomainName=viewer.example.com -c viewerCertificateArn=arn:aws:acm:us-east-1:…');
  } else if (domainName !== undefined && certificateArn !== undefined) {
    viewer.domain = { name: domainName, certificateArn };
  }
  const waf = whole('viewerWafRateLimit', '1000', 10);
  if (waf !== undefined) viewer.wafRateLimit = waf;

  if (problems.length > 0) throw new SettingsError(problems);
  const viewerDomainPrefix = text('viewerDomainPrefix');
  return { stackName: text('stackName') ?? 'Cloudcam', stack, viewer, ...(viewerDomainPrefix !== undefined ? { viewerDomainPrefix } : {}) };
}
