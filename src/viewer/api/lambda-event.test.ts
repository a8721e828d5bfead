import { describe, expect, it } from 'vitest';
import { fromHttpApiEvent, toHttpApiResult } from './lambda-event.js';

describe('API Gateway HTTP API (payload 2.0) <-> viewer request', () => {
  it('carries method, path, query, headers, a base64 body and the origin share links are made under', () => {
    const req = fromHttpApiEvent({
      rawPath: '/api/shares',
      rawQueryString: 'limit=5&next=camera-2',
      headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
      body: Buffer.from('{"key":"k"}').toString('base64'),
      isBase64Encoded: true,
      requestContext: { http: { method: 'POST' }, domainName: 'abc.execute-api.eu-west-1.amazonaws.com' },
    });
    expect(req).toMatchObject({ method: 'POST', path: '/api/shares', body: '{"key":"k"}', origin: 'https://abc.execute-api.eu-west-1.amazonaws.com' });
    expect(req.query.get('next')).toBe('camera-2');
    expect(req.headers['authorization']).toBe('Bearer x');
    expect(toHttpApiResult({ status: 302, headers: { location: 'https://s3/x' }, body: '' })).toEqual({ statusCode: 302, headers: { location: 'https://s3/x' }, body: '', isBase64Encoded: false });
  });
});
