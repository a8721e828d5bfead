/**
 * What an HTTP listener of ours may trust about a request before routing it. Every function here
 * throws only BadRequestError, which a listener answers with 400: `new URL(req.url, base)` and
 * `decodeURIComponent` throw on targets like `//`, `/\` or `%E0%A4%A`, and a throw in a request
 * listener would end the process.
 */

export class BadRequestError extends Error {
  override readonly name = 'BadRequestError';
  readonly status = 400;
}

/** A fixed origin: the path is appended to it, so `//x` stays a path and never becomes a host. */
const ORIGIN = 'http://request.invalid';

/** The request target as a URL (origin-form only: a path starting with `/`), or BadRequestError. */
export function requestUrl(target: string | undefined): URL {
  if (target === undefined || !target.startsWith('/')) {
    throw new BadRequestError(`request target ${JSON.stringify(target ?? '')} is not a path starting with "/"`);
  }
  try {
    return new URL(`${ORIGIN}${target}`);
  } catch {
    throw new BadRequestError(`request target ${JSON.stringify(target)} is not a valid path`);
  }
}

/** The non-empty path segments of a (still percent-encoded) path, decoded; BadRequestError on bad encoding. */
export function pathSegments(pathname: string): string[] {
  return pathname
    .split('/')
    .filter(Boolean)
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        throw new BadRequestError(`path segment ${JSON.stringify(segment)} is not valid percent-encoding`);
      }
    });
}

const LOOPBACK_NAMES = new Set(['localhost', '[::1]']);
const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/**
 * True when a Host header names this machine's loopback (`localhost`, 127.x.y.z, `[::1]`, any
 * port). A web page that rebinds its own DNS name to 127.0.0.1 still sends its own name here, so a
 * loopback-only server that checks this cannot be driven by a browser through DNS rebinding.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(host.trim().toLowerCase());
  const name = match?.[1] ?? '';
  return match !== null && (LOOPBACK_NAMES.has(name) || LOOPBACK_V4.test(name));
}
