import { createHash, timingSafeEqual } from 'node:crypto';
import type { ViewerRequest, ViewerResponse } from './handler.js';

/**
 * The viewer API in AWS answers only requests that came through the viewer's CloudFront distribution:
 * CloudFront adds this header with a secret value to every origin request (infra/viewer.ts), and the
 * Lambda refuses a request without it before doing anything else. An HTTP API has neither resource
 * policies nor AWS WAF, and turning its execute-api endpoint off needs a custom domain that is just as
 * reachable, so the check has to be here (docs/security.md, "The deployed stack").
 */
export const ORIGIN_VERIFY_HEADER = 'x-cloudcam-origin-verify';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Constant-time: comparing digests of equal length leaks neither the secret's length nor a prefix. */
export function originSecretMatches(presented: string | undefined, secret: Buffer): boolean {
  if (presented === undefined || presented === '') return false;
  return timingSafeEqual(digest(presented), createHash('sha256').update(secret).digest());
}

export function requireOriginSecret(
  secret: () => Promise<Buffer>,
  api: (req: ViewerRequest) => Promise<ViewerResponse>,
): (req: ViewerRequest) => Promise<ViewerResponse> {
  return async (req) => {
    if (!originSecretMatches(req.headers[ORIGIN_VERIFY_HEADER], await secret())) {
      return {
        status: 403,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
        body: JSON.stringify({ error: "this API answers only through the viewer's own address (its CloudFront domain)" }),
      };
    }
    return api(req);
  };
}
