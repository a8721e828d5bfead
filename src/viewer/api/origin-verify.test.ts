import { describe, expect, it } from 'vitest';
import type { ViewerRequest, ViewerResponse } from './handler.js';
import { ORIGIN_VERIFY_HEADER, originSecretMatches, requireOriginSecret } from './origin-verify.js';

// The attacker: anyone on the internet who found the API's execute-api address (it is in share links
// made before, in DNS logs, or guessed from the API id) and calls it directly, around CloudFront.
const SECRET = Buffer.from('s3cr3t-from-secrets-manager-0123456789abcdef', 'utf8');

function request(headers: Record<string, string | undefined>): ViewerRequest {
  return { method: 'GET', path: '/api/cameras', query: new URLSearchParams(), headers, body: '', origin: 'https://abc.execute-api.eu-north-1.amazonaws.com' };
}

describe('the CloudFront origin secret', () => {
  const served: ViewerRequest[] = [];
  const api = requireOriginSecret(
    async () => SECRET,
    async (req): Promise<ViewerResponse> => {
      served.push(req);
      return { status: 200, headers: {}, body: '{}' };
    },
  );

  it('a request without the header, or with a wrong or partial value, is refused with 403 and reaches nothing', async () => {
    for (const value of [undefined, '', 'wrong', SECRET.toString('utf8').slice(0, 20), `${SECRET.toString('utf8')}x`]) {
      const out = await api(request(value === undefined ? {} : { [ORIGIN_VERIFY_HEADER]: value }));
      expect(out.status, String(value)).toBe(403);
      expect(JSON.parse(out.body)).toEqual({ error: expect.stringContaining('CloudFront') as unknown });
    }
    expect(served).toEqual([]);
  });

  it('a request CloudFront forwarded (the header with the secret) is served', async () => {
    const out = await api(request({ [ORIGIN_VERIFY_HEADER]: SECRET.toString('utf8'), authorization: 'Bearer x' }));
    expect(out.status).toBe(200);
    expect(served).toHaveLength(1);
  });

  it('compares in constant time over digests (no length or prefix oracle)', () => {
    expect(originSecretMatches(SECRET.toString('utf8'), SECRET)).toBe(true);
    expect(originSecretMatches(SECRET.toString('utf8').toUpperCase(), SECRET)).toBe(false);
    expect(originSecretMatches(undefined, SECRET)).toBe(false);
  });
});
