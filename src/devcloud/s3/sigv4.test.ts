import { describe, expect, it } from 'vitest';
import { S3Error } from './errors.js';
import { canonicalQuery, parseCredential, parseQuery, signingKey, uriEncode, verifyHeaderSignedRequest, verifyPresignedRequest } from './sigv4.js';

/** 'ok', or the S3 error's status and code. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof S3Error) return `${err.status} ${err.code}`;
    throw err;
  }
  return 'ok';
}

describe('signingKey', () => {
  it('matches the AWS documentation example ("Examples of how to derive a signing key")', () => {
    const key = signingKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20120215', 'us-east-1', 'iam');
    expect(key.toString('hex')).toBe('f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d');
  });
});

describe('verifyPresignedRequest', () => {
  // The S3 API Reference example "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)".
  const secret = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  const query =
    'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
    '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
  const req = { method: 'GET', rawPath: '/test.txt', rawQuery: query, headers: { host: 'examplebucket.s3.amazonaws.com' } };
  const base = { region: 'us-east-1', now: Date.UTC(2013, 4, 24, 1, 0, 0), lookup: (id: string) => (id === secret.accessKeyId ? secret : undefined) };

  it('accepts the documented example', () => {
    expect(codeOf(() => verifyPresignedRequest(req, base))).toBe('ok');
  });
  it('rejects a changed path, host or signature', () => {
    expect(codeOf(() => verifyPresignedRequest({ ...req, rawPath: '/test2.txt' }, base))).toBe('403 SignatureDoesNotMatch');
    expect(codeOf(() => verifyPresignedRequest({ ...req, headers: { host: 'evil.example' } }, base))).toBe('403 SignatureDoesNotMatch');
    expect(codeOf(() => verifyPresignedRequest({ ...req, rawQuery: query.replace('aeeed9', 'aeeed8') }, base))).toBe('403 SignatureDoesNotMatch');
  });
  it('rejects after X-Amz-Expires, and before X-Amz-Date minus the allowed skew', () => {
    expect(codeOf(() => verifyPresignedRequest(req, { ...base, now: Date.UTC(2013, 4, 25, 0, 0, 1) }))).toBe('403 AccessDenied');
    expect(codeOf(() => verifyPresignedRequest(req, { ...base, now: Date.UTC(2013, 4, 23, 23, 0, 0) }))).toBe('403 AccessDenied');
  });
  it('rejects an unknown key, another region, a missing parameter and an expiry over a week', () => {
    expect(codeOf(() => verifyPresignedRequest(req, { ...base, lookup: () => undefined }))).toBe('403 InvalidAccessKeyId');
    expect(codeOf(() => verifyPresignedRequest(req, { ...base, region: 'eu-west-1' }))).toBe('400 AuthorizationHeaderMalformed');
    expect(codeOf(() => verifyPresignedRequest({ ...req, rawQuery: query.replace('&X-Amz-SignedHeaders=host', '') }, base))).toBe(
      '400 AuthorizationQueryParametersError',
    );
    expect(codeOf(() => verifyPresignedRequest({ ...req, rawQuery: query.replace('86400', '604801') }, base))).toBe(
      '400 AuthorizationQueryParametersError',
    );
  });
  it('treats a request without any signature parameter as anonymous: 403 AccessDenied', () => {
    expect(codeOf(() => verifyPresignedRequest({ ...req, rawQuery: '' }, base))).toBe('403 AccessDenied');
  });
});

describe('verifyHeaderSignedRequest', () => {
  // The S3 API Reference examples "Authenticating Requests: Using the Authorization Header (AWS
  // Signature Version 4)": "GET Object" and "GET Bucket (List Objects)".
  const secret = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  const emptyHash = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  const auth = (signedHeaders: string, signature: string) =>
    `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;
  const getObject = {
    method: 'GET',
    rawPath: '/test.txt',
    rawQuery: '',
    headers: {
      host: 'examplebucket.s3.amazonaws.com',
      range: 'bytes=0-9',
      'x-amz-content-sha256': emptyHash,
      'x-amz-date': '20130524T000000Z',
      authorization: auth('host;range;x-amz-content-sha256;x-amz-date', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'),
    },
  };
  const listObjects = {
    method: 'GET',
    rawPath: '/',
    rawQuery: 'max-keys=2&prefix=J',
    headers: {
      host: 'examplebucket.s3.amazonaws.com',
      'x-amz-content-sha256': emptyHash,
      'x-amz-date': '20130524T000000Z',
      authorization: auth('host;x-amz-content-sha256;x-amz-date', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'),
    },
  };
  const base = { region: 'us-east-1', now: Date.UTC(2013, 4, 24, 0, 5, 0), lookup: (id: string) => (id === secret.accessKeyId ? secret : undefined) };

  it('accepts both documented examples', () => {
    expect(codeOf(() => verifyHeaderSignedRequest(getObject, base))).toBe('ok');
    expect(codeOf(() => verifyHeaderSignedRequest(listObjects, base))).toBe('ok');
  });
  it('rejects a changed query, a changed signed header, and a request more than 15 minutes off the clock', () => {
    expect(codeOf(() => verifyHeaderSignedRequest({ ...listObjects, rawQuery: 'max-keys=3&prefix=J' }, base))).toBe('403 SignatureDoesNotMatch');
    expect(codeOf(() => verifyHeaderSignedRequest({ ...getObject, headers: { ...getObject.headers, range: 'bytes=0-99' } }, base))).toBe(
      '403 SignatureDoesNotMatch',
    );
    expect(codeOf(() => verifyHeaderSignedRequest(getObject, { ...base, now: Date.UTC(2013, 4, 24, 0, 16, 0) }))).toBe('403 RequestTimeTooSkewed');
  });
  it('names a malformed header, a missing date and a body hash it cannot check', () => {
    expect(codeOf(() => verifyHeaderSignedRequest({ ...getObject, headers: { ...getObject.headers, authorization: 'Bearer x' } }, base))).toBe(
      '400 AuthorizationHeaderMalformed',
    );
    const { 'x-amz-date': _date, ...noDate } = getObject.headers;
    expect(codeOf(() => verifyHeaderSignedRequest({ ...getObject, headers: noDate }, base))).toBe('403 AccessDenied');
    expect(codeOf(() => verifyHeaderSignedRequest({ ...getObject, headers: { ...getObject.headers, 'x-amz-content-sha256': 'ab' } }, base))).toBe(
      '400 XAmzContentSHA256Mismatch',
    );
  });
});

describe('helpers', () => {
  it('uriEncode leaves only RFC 3986 unreserved characters literal', () => {
    expect(uriEncode("a-_.~ !'()*/é")).toBe('a-_.~%20%21%27%28%29%2A%2F%C3%A9');
  });
  it('canonicalQuery sorts by encoded name and keeps empty values', () => {
    expect(canonicalQuery(parseQuery('b=2&a=1&x-id=GetObject&c'))).toBe('a=1&b=2&c=&x-id=GetObject');
  });
  it('parseCredential names the field and the expected shape on bad input', () => {
    expect(parseCredential('AKID/20240101/us-east-1/s3/aws4_request', 'x')).toEqual({
      accessKeyId: 'AKID',
      date: '20240101',
      region: 'us-east-1',
      service: 's3',
    });
    expect(() => parseCredential('AKID/2024/us-east-1/s3/aws4_request', 'x-amz-credential')).toThrow(
      /x-amz-credential is malformed: expected "<access-key-id>\/<yyyymmdd>\/<region>\/s3\/aws4_request"/,
    );
    expect(() => parseCredential('AKID/20240101/us-east-1/iam/aws4_request', 'x')).toThrow(S3Error);
  });
});
