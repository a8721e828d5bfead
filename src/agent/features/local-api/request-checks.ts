/**
 * The checks every local API request passes before a route sees it. Each returns why the request is
 * refused (status and message) or undefined. They never throw, whatever the request holds.
 */
import type { IncomingMessage } from 'node:http';
import { isLoopbackHost, requestUrl } from '../../../lib/request-target.js';

export interface Refusal {
  status: number;
  error: string;
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (a dual-stack socket's view of 127.0.0.1). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** The path of a request target, or undefined when it is not an origin-form path ('//', '/\', '*', a URL). */
export function requestPath(target: string | undefined): string | undefined {
  // Stricter than requestUrl: '//x' and backslashes are refused outright rather than read as paths,
  // since a proxy in front of us may have read them as another host.
  if (target === undefined || target.startsWith('//') || target.includes('\\')) return undefined;
  try {
    return requestUrl(target).pathname;
  } catch {
    return undefined;
  }
}

/**
 * Host must name the loopback (localhost, 127.x.y.z, [::1], with or without a port): a web page that
 * rebinds its own DNS name to 127.0.0.1 still sends its own name as Host, and is refused.
 */
export function hostProblem(host: string | undefined): Refusal | undefined {
  if (isLoopbackHost(host)) return undefined;
  return { status: 421, error: `the local API answers requests for localhost only (Host ${JSON.stringify((host ?? '').slice(0, 100))}); use the camera's /local/cloudcam/api/` };
}

/**
 * A request that changes something must say application/json: a browser sends that cross-site only
 * after a CORS preflight, which the local API never grants, while a plain <form> (text/plain,
 * urlencoded, multipart) needs none.
 */
export function contentTypeProblem(req: IncomingMessage): Refusal | undefined {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') return undefined;
  return { status: 415, error: `send the body as Content-Type: application/json (got ${JSON.stringify((req.headers['content-type'] ?? '(none)').slice(0, 100))})` };
}
