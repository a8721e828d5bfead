import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/**
 * Decides whether the agent may send a snapshot to a presigned POST URL. The URL comes from the
 * shadow, so it is untrusted input (SSRF): only https (plain http only for hosts explicitly allowed
 * for development), only hosts on the allow-list, no credentials in the URL, and no non-public
 * address (loopback, link-local such as the 169.254.169.254 metadata service, private ranges,
 * unspecified, multicast) unless that exact host is on the allow-list. DNS names are resolved first
 * and the upload connects to the address that was checked (pinnedAgent), so a name that
 * resolves to a public address for the check and to a private one for the connection (DNS
 * rebinding) gains nothing. Redirects are never followed (node's http.request does not).
 */
export interface UploadTargetPolicy {
  /** Exact `host`, `host:port`, or `*.suffix` (any subdomain of suffix). */
  allowedHosts: readonly string[];
  /** Exact hostnames that may be reached over plain http (devcloud on loopback). */
  insecureHttpHosts: readonly string[];
}

export type TargetCheck = { ok: true; url: URL; exactlyAllowed: boolean } | { ok: false; error: string };

export type ResolvedTarget = { ok: true; url: URL; address: string; family: 4 | 6 } | { ok: false; error: string };

export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

/**
 * Address ranges an upload must not reach unless the exact host is allowed (RFC 6890 special-purpose).
 * BlockList checks IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) against the IPv4 rules itself.
 */
const NON_PUBLIC = new net.BlockList();
for (const [net4, prefix] of [
  ['0.0.0.0', 8], // "this network", includes the unspecified address
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local: cloud metadata services live here
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved and broadcast
] as const) {
  NON_PUBLIC.addSubnet(net4, prefix, 'ipv4');
}
for (const [net6, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  NON_PUBLIC.addSubnet(net6, prefix, 'ipv6');
}

/** True for addresses that are not on the public internet. */
export function isNonPublicAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  return NON_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** The URL's host as an IP literal (IPv6 without brackets), or undefined for a DNS name. */
function ipLiteral(url: URL): string | undefined {
  const h = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return net.isIP(h) !== 0 ? h : undefined;
}

function matchEntry(entry: string, url: URL): 'exact' | 'wildcard' | undefined {
  const e = entry.toLowerCase();
  if (e.startsWith('*.')) {
    const suffix = e.slice(1); // ".amazonaws.com"
    return url.hostname.endsWith(suffix) && url.hostname.length > suffix.length ? 'wildcard' : undefined;
  }
  const hit = e.includes(':') && !e.startsWith('[') ? e === url.host : e === url.hostname || e === url.host;
  return hit ? 'exact' : undefined;
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
    if (!policy.insecureHttpHosts.some((h) => h.toLowerCase() === url.hostname)) {
      return { ok: false, error: `upload url must use https (plain http is allowed only for hosts in snapshot.insecureHttpUploadHosts; ${url.hostname} is not)` };
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
  if (literal !== undefined && isNonPublicAddress(literal) && !exactlyAllowed) {
    return { ok: false, error: `upload host ${url.host} is a non-public address; only an exact entry in snapshot.allowedUploadHosts allows it` };
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
  const bad = addresses.find((a) => isNonPublicAddress(a.address));
  if (bad && !exactlyAllowed) {
    return { ok: false, error: `upload host ${url.hostname} resolves to the non-public address ${bad.address}; only an exact entry in snapshot.allowedUploadHosts allows that` };
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
