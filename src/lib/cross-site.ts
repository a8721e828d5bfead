import type { IncomingHttpHeaders } from 'node:http';

/**
 * What a loopback-only HTTP API for scripts must refuse so that a web page the developer has open
 * cannot drive it (cross-site request forgery). A page may send a "simple" request to any address,
 * 127.0.0.1 included, without CORS: `fetch(url, {method: 'POST', mode: 'no-cors', body})` goes out
 * with `Content-Type: text/plain` and the browser's own `Origin` and `Sec-Fetch-Site` headers, and
 * its effect happens even though the page cannot read the answer. Browsers do not let a page set
 * those headers, nor a JSON content type without a CORS preflight (which we never answer). So:
 *   - a request from a browser names its origin: any `Origin` other than the API's own is refused,
 *     and so is `Sec-Fetch-Site` other than `same-origin` or `none` (typed in the address bar);
 *   - a request that changes something must carry `Content-Type: application/json`.
 * Scripts and the CLI send no `Origin` and set the JSON type: they are not affected.
 * See the Fetch standard's CORS-safelisted request headers and Sec-Fetch-Site (fetch.spec.whatwg.org).
 */

/** Methods that read only: still checked for a foreign origin, never for a body type. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface CrossSiteRefusal {
  status: 403 | 415;
  message: string;
}

function isJsonType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const essence = value.split(';')[0]!.trim().toLowerCase();
  return essence === 'application/json';
}

/**
 * Why a request to a loopback script API must be refused, or undefined. `host` is the request's own
 * Host header (already checked to be a loopback name), so the API's own origin is `http://{host}`.
 */
export function crossSiteRefusal(method: string, headers: IncomingHttpHeaders, apiName: string): CrossSiteRefusal | undefined {
  const origin = headers.origin;
  if (origin !== undefined && origin !== `http://${headers.host ?? ''}`) {
    return { status: 403, message: `the ${apiName} does not answer web pages (Origin ${JSON.stringify(origin.slice(0, 100))}); call it from a script or the CLI` };
  }
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return { status: 403, message: `the ${apiName} does not answer web pages (Sec-Fetch-Site ${JSON.stringify(site.slice(0, 40))}); call it from a script or the CLI` };
  }
  if (!SAFE_METHODS.has(method.toUpperCase()) && !isJsonType(headers['content-type'])) {
    return { status: 415, message: `${method} needs Content-Type: application/json (also with an empty body): the ${apiName} refuses other types so that a web page cannot send it a request` };
  }
  return undefined;
}
