import { describe, expect, it } from 'vitest';
import { BadRequestError, isLoopbackHost, pathSegments, requestUrl } from './request-target.js';

describe('requestUrl', () => {
  it.each(['//', '/\\', '//evil.example/x', '/%', '/%E0%A4%A', '/a?b=%zz'])('keeps %j a path on the fixed origin', (target) => {
    const url = requestUrl(target);
    expect(url.host).toBe('request.invalid');
  });

  it.each([undefined, '', '*', 'http://evil.example/', 'x'])('refuses %j with BadRequestError', (target) => {
    expect(() => requestUrl(target)).toThrow(BadRequestError);
  });
});

describe('pathSegments', () => {
  it('decodes segments and drops empty ones', () => {
    expect(pathSegments('/cameras/cam%2D1//faults/')).toEqual(['cameras', 'cam-1', 'faults']);
  });

  it('refuses bad percent-encoding with BadRequestError, not URIError', () => {
    expect(() => pathSegments('/cameras/%E0%A4%A/faults')).toThrow(BadRequestError);
  });
});

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1:8080', 'localhost', 'LOCALHOST:1', '[::1]:80', '127.0.0.1', '127.0.0.2', '127.1.2.3:80'])('accepts %s', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each([undefined, '', 'evil.example:8080', 'localhost.evil.example', '127.0.0.1.nip.io', '[::1', 'localhost:80:80'])(
    'refuses %s',
    (host) => {
      expect(isLoopbackHost(host)).toBe(false);
    },
  );
});
