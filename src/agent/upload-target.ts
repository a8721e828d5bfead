import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Decides whether the agent may send a snapshot to a presigned POST URL. The URL comes from the
 * shadow, so it is untrusted input (SSRF): only https (plain http only for hosts explicitly allowed
 * for development), only hosts on the allow-list, no credentials in the URL, and no non-public
 * address (nonPublicReason: loopback, link-local such as the 169.254.169.254 metadata service, private
 * ranges, IPv6 transition ranges, ...) unless that exact host is on the allow-list. DNS names are resolved first
 * and the upload connects to the address that was checked (pinnedAgent), so a name that
 * resolves to a public address for the check and to a private one for the connection (DNS
 * rebinding) gains nothing. Redirects are never followed (node's http.request does not).
 */
export interface UploadTargetPolicy {
  /** Exact `host`, `host:port`, or `*.suffix` (any subdomain of suffix); without a port, the default port only. */
  allowedHosts: readonly string[];
  /** Exact `host` or `host:port` that may be reached over plain http (devcloud on loopback); without a port, port 80 only. */
  insecureHttpHosts: readonly string[];
}

export type TargetCheck = { ok: true; url: URL; exactlyAllowed: boolean } | { ok: false; error: string };

export type ResolvedTarget = { ok: true; url: URL; address: string; family: 4 | 6 } | { ok: false; error: string };

export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

/**
 * Why an address is not on the public internet, or undefined when it is. The ranges come from
 * ipaddr.js's `range()` (the IANA special-purpose registries, RFC 6890 and later; docs/decisions.md
 * says why a library): an IPv4 address must be plain `unicast`; an IPv6 address must be `unicast`
 * and inside global unicast 2000::/3. Addresses that carry an IPv4 address:
 * - IPv4-mapped (::ffff:a.b.c.d) and NAT64 well-known prefix (64:ff9b::/96, RFC 6052): judged by the
 *   IPv4 address inside (a camera on an IPv6-only network reaches S3 through DNS64 + NAT64, and the
 *   translator connects to exactly that IPv4 address);
 * - IPv4-compatible (::a.b.c.d, deprecated by RFC 4291), NAT64 local-use 64:ff9b:1::/48 (its mapping is
 *   site-specific), 6to4 2002::/16 and Teredo 2001::/32 (tunnels whose far end we cannot judge):
 *   refused outright; no S3 endpoint is reached that way.
 */
export function nonPublicReason(address: string): string | undefined {
  const bare = address.split('%')[0]!; // a zone id (fe80::1%eth0) names an interface, not an address
  const family = net.isIP(bare);
  if (family === 4) {
    const range = ipaddr.IPv4.parse(bare).range();
    return range === 'unicast' ? undefined : range;
  }
  if (family !== 6) return undefined;
  // ipaddr.js reads "::1.2.3.4" as IPv4-mapped; the URL parser's canonical form is exact.
  const v6 = ipaddr.IPv6.parse(new URL(`http://[${bare}]/`).hostname.slice(1, -1));
  const bytes = v6.toByteArray();
  const range = v6.range();
  const inner = (): string => bytes.slice(12).join('.');
  if (range === 'ipv4Mapped') return embedded('IPv4-mapped', inner());
  if (bytes.slice(0, 12).every((b) => b === 0)) return range === 'unspecified' || range === 'loopback' ? range : 'IPv4-compatible (deprecated)';
  if (range === 'rfc6052') return v6.match(NAT64_WELL_KNOWN) ? embedded('NAT64', inner()) : 'NAT64 local-use prefix';
  if (range !== 'unicast') return range;
  return (bytes[0]! & 0xe0) === 0x20 ? undefined : 'outside global unicast 2000::/3';
}

const NAT64_WELL_KNOWN = ipaddr.parseCIDR('64:ff9b::/96');

function embedded(kind: string, ipv4: string): string | undefined {
  const reason = nonPublicReason(ipv4);
  return reason === undefined ? undefined : `${kind} ${ipv4}, ${reason}`;
}

/** True for addresses that are not on the public internet. */
export function isNonPublicAddress(address: string): boolean {
  return nonPublicReason(address) !== undefined;
}

/** The URL's host as an IP literal (IPv6 without brackets), or undefined for a DNS name. */
function ipLiteral(url: URL): string | undefined {
  const h = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return net.isIP(h) !== 0 ? h : undefined;
}

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443' };

/**
 * An allow-list entry as host and port: `host`, `host:port`, `[v6]`, `[v6]:port`. Without a port
 * the entry means the scheme's default port only (443 for https, 80 for http): allowing a host must
 * not open every service on it.
 */
function splitEntry(entry: string): { host: string; port: string | undefined } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(entry.toLowerCase());
  return m ? { host: m[1]!, port: m[2] } : undefined;
}

/** The URL's port, the scheme's default written out ('' in a URL means the default). */
function portOf(url: URL): string {
  return url.port || DEFAULT_PORT[url.protocol] || '';
}

function matchEntry(entry: string, url: URL): 'exact' | 'wildcard' | undefined {
  const e = entry.toLowerCase();
  if (e.startsWith('*.')) {
    const suffix = e.slice(1); // ".example.com"
    const hit = url.hostname.endsWith(suffix) && url.hostname.length > suffix.length && url.port === '';
    return hit ? 'wildcard' : undefined;
  }
  const parts = splitEntry(e);
  if (!parts || parts.host !== url.hostname) return undefined;
  return portOf(url) === (parts.port ?? DEFAULT_PORT[url.protocol]) ? 'exact' : undefined;
}

/**
 * An empty allow-list would refuse every request hours later, one `rejected` report at a time; the
 * agent refuses to start instead, naming the fix (checked before it connects, in startAgent).
 */
export function allowListProblem(allowedHosts: readonly string[]): string | undefined {
  if (allowedHosts.length > 0) return undefined;
  return (
    "snapshot.allowedUploadHosts is empty: list your deployment's bucket host, e.g. [\"{bucket}.s3.{region}.amazonaws.com\"] " +
    '(the stack output UploadHost, docs/deploy.md; devcloud writes it into DIR/agents/*.json). Without it every snapshot request would be refused'
  );
}

/** The synchronous part of the check: scheme, credentials, allow-list and IP literals. */
export function checkUploadTarget(raw: string, policy: UploadTargetPolicy): TargetCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, error: 'upload url is not a valid URL' };
  }
  if (url.username !== '' || url.password !== '') return { ok: false, error: 'upload url must not carry credentials' };
  if (url.protocol === 'http:') {
    if (!policy.insecureHttpHosts.some((h) => matchEntry(h, url) === 'exact')) {
      return { ok: false, error: `upload url must use https (plain http is allowed only for host:port entries in snapshot.insecureHttpUploadHosts; ${url.hostname}:${portOf(url)} is not one)` };
    }
  } else if (url.protocol !== 'https:') {
    return { ok: false, error: `upload url scheme ${url.protocol} is not allowed; only https` };
  }
  const matches = policy.allowedHosts.map((entry) => matchEntry(entry, url));
  if (!matches.some((m) => m !== undefined)) {
    return { ok: false, error: `upload host ${url.host} is not in snapshot.allowedUploadHosts; add it there if it is yours` };
  }
  const exactlyAllowed = matches.includes('exact');
  const literal = ipLiteral(url);
  const literalReason = literal === undefined ? undefined : nonPublicReason(literal);
  if (literalReason !== undefined && !exactlyAllowed) {
    return { ok: false, error: `upload host ${url.host} is a non-public address (${literalReason}); only an exact entry in snapshot.allowedUploadHosts allows it` };
  }
  return { ok: true, url, exactlyAllowed };
}

const systemLookup: LookupAll = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/**
 * The whole check: checkUploadTarget, then DNS. Every address the name resolves to must be public
 * (unless the exact host is allowed); the first one is the address the upload connects to.
 */
export async function resolveUploadTarget(raw: string, policy: UploadTargetPolicy, lookup: LookupAll = systemLookup): Promise<ResolvedTarget> {
  const checked = checkUploadTarget(raw, policy);
  if (!checked.ok) return checked;
  const { url, exactlyAllowed } = checked;
  const literal = ipLiteral(url);
  if (literal !== undefined) return { ok: true, url, address: literal, family: net.isIP(literal) === 6 ? 6 : 4 };
  let addresses: { address: string; family: number }[];
  try {
    addresses = await lookup(url.hostname);
  } catch (err) {
    return { ok: false, error: `upload host ${url.hostname} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the device's DNS` };
  }
  const first = addresses[0];
  if (!first) return { ok: false, error: `upload host ${url.hostname} resolves to no address` };
  const bad = addresses.map((a) => ({ address: a.address, reason: nonPublicReason(a.address) })).find((a) => a.reason !== undefined);
  if (bad && !exactlyAllowed) {
    return { ok: false, error: `upload host ${url.hostname} resolves to the non-public address ${bad.address} (${bad.reason}); only an exact entry in snapshot.allowedUploadHosts allows that` };
  }
  return { ok: true, url, address: first.address, family: first.family === 6 ? 6 : 4 };
}

/**
 * A keep-alive connection agent whose connections go to `address` whatever the name resolves to
 * now. For https, TLS still verifies the certificate, against the URL's host name (node's
 * https.Agent takes the servername from the request's host, not from the address). Idle
 * connections close after 4 s, or 1 s before the server's Keep-Alive timeout if that is shorter,
 * so a reused connection is rarely one the server is closing. Destroy it when done.
 */
export function pinnedAgent(protocol: string, target: { address: string; family: 4 | 6 }): http.Agent {
  const lookup: net.LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const options = { keepAlive: true, timeout: 4000, lookup };
  return protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
}

export interface PinnedPools {
  /** The pool for `url`'s origin pinned to `target`'s checked address, made on first use. */
  poolFor(url: string, target: { address: string; family: 4 | 6 }): http.Agent;
  /** Closes every pool (stop). */
  destroy(): void;
}

/**
 * Pinned connection pools kept between uploads, one per (origin, checked address), so consecutive
 * uploads reuse their keep-alive connection (one TLS handshake, not one per upload). A pool only
 * ever connects to the address it was made for; a new DNS answer gets a new pool, and past maxPools
 * the oldest is closed.
 */
export function pinnedPools(maxPools: number): PinnedPools {
  const pools = new Map<string, http.Agent>();
  return {
    poolFor(url, target) {
      const parsed = new URL(url);
      const key = `${parsed.origin}|${target.address}`;
      let pool = pools.get(key);
      if (!pool) {
        pool = pinnedAgent(parsed.protocol, target);
        pools.set(key, pool);
        while (pools.size > maxPools) {
          const [oldest, old] = pools.entries().next().value as [string, http.Agent];
          pools.delete(oldest);
          old.destroy();
        }
      }
      return pool;
    },
    destroy() {
      for (const pool of pools.values()) pool.destroy();
      pools.clear();
    },
  };
}
