/**
 * Decides whether the agent may send a snapshot to a presigned POST URL. The URL comes from the
 * shadow, so it is untrusted input: only https (plain http only for hosts explicitly allowed for
 * development), only hosts on the allow-list, no credentials in the URL. Checked before any
 * connection is made.
 */
export interface UploadTargetPolicy {
  /** Exact `host`, `host:port`, or `*.suffix` (any subdomain of suffix). */
  allowedHosts: readonly string[];
  /** Exact hostnames that may be reached over plain http (devcloud on loopback). */
  insecureHttpHosts: readonly string[];
}

export type TargetCheck = { ok: true; url: URL } | { ok: false; error: string };

function hostMatches(entry: string, url: URL): boolean {
  const e = entry.toLowerCase();
  if (e.startsWith('*.')) {
    const suffix = e.slice(1); // ".amazonaws.com"
    return url.hostname.endsWith(suffix) && url.hostname.length > suffix.length;
  }
  return e.includes(':') && !e.startsWith('[') ? e === url.host : e === url.hostname || e === url.host;
}

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
  if (!policy.allowedHosts.some((entry) => hostMatches(entry, url))) {
    return { ok: false, error: `upload host ${url.host} is not in snapshot.allowedUploadHosts; add it there if it is yours` };
  }
  return { ok: true, url };
}
