/**
 * HTTP Digest access authentication (RFC 7616, compatible with RFC 2617 servers).
 *
 * Client side: parse the challenges of a 401, pick the strongest, compute the Authorization header.
 * Server side: a verifier that issues stateless HMAC-signed nonces and rejects replayed nonce counts,
 * used by the VAPIX camera simulator so that our client is tested against a strict server.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

export interface DigestChallenge {
  realm: string;
  nonce: string;
  qop?: string[];
  algorithm: DigestAlgorithm;
  opaque?: string;
  stale?: boolean;
  /** `algorithm=MD5-sess` / `SHA-256-sess`: HA1 also covers nonce and cnonce (RFC 7616 §3.4.2). */
  session?: boolean;
}

export interface DigestCredentials {
  username: string;
  password: string;
}

const HASH_NAME: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };

function h(algorithm: DigestAlgorithm, data: string): string {
  return createHash(HASH_NAME[algorithm]).update(data, 'utf8').digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Header parsing (RFC 7235 §2.1 challenge grammar: scheme, then token68 or comma-separated params,
// several challenges in one header value separated by commas).

interface RawChallenge {
  scheme: string;
  params: Map<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

class HeaderScanner {
  pos = 0;
  constructor(readonly s: string) {}
  skipWs(): void {
    while (this.pos < this.s.length && (this.s[this.pos] === ' ' || this.s[this.pos] === '\t')) this.pos++;
  }
  skipWsAndCommas(): void {
    while (this.pos < this.s.length && /[\s,]/.test(this.s[this.pos] ?? '')) this.pos++;
  }
  token(): string {
    const start = this.pos;
    while (this.pos < this.s.length && TOKEN_CHAR.test(this.s[this.pos] ?? '')) this.pos++;
    return this.s.slice(start, this.pos);
  }
  peek(): string | undefined {
    return this.s[this.pos];
  }
  quoted(): string {
    // Caller checked the opening quote.
    this.pos++;
    let out = '';
    while (this.pos < this.s.length) {
      const c = this.s[this.pos++];
      if (c === '\\' && this.pos < this.s.length) out += this.s[this.pos++];
      else if (c === '"') return out;
      else out += c;
    }
    return out; // unterminated: tolerate, take the rest
  }
  done(): boolean {
    return this.pos >= this.s.length;
  }
}

function parseRawChallenges(header: string): RawChallenge[] {
  const sc = new HeaderScanner(header);
  const out: RawChallenge[] = [];
  let current: RawChallenge | undefined;
  while (true) {
    sc.skipWsAndCommas();
    if (sc.done()) break;
    const start = sc.pos;
    const tok = sc.token();
    if (tok === '') {
      sc.pos++; // junk character: skip it rather than loop forever
      continue;
    }
    sc.skipWs();
    if (sc.peek() === '=' && current) {
      // auth-param of the current challenge (a token68 ending in '=' has no scheme before it here)
      sc.pos++;
      sc.skipWs();
      const value = sc.peek() === '"' ? sc.quoted() : sc.token();
      current.params.set(tok.toLowerCase(), value);
      continue;
    }
    if (sc.peek() === '=') {
      sc.pos = start + tok.length + 1; // param without a scheme: ignore it
      continue;
    }
    current = { scheme: tok.toLowerCase(), params: new Map() };
    out.push(current);
    // A token68 right after the scheme (e.g. `Negotiate abc/def==`) is not an auth-param: skip it.
    const t68 = /^[A-Za-z0-9\-._~+/]+=*[ \t]*(?=,|$)/.exec(header.slice(sc.pos));
    if (t68) sc.pos += t68[0].length;
  }
  return out;
}

function parseAlgorithm(raw: string | undefined): { algorithm: DigestAlgorithm; session: boolean } | undefined {
  const a = (raw ?? 'MD5').toUpperCase();
  switch (a) {
    case 'MD5':
      return { algorithm: 'MD5', session: false };
    case 'MD5-SESS':
      return { algorithm: 'MD5', session: true };
    case 'SHA-256':
      return { algorithm: 'SHA-256', session: false };
    case 'SHA-256-SESS':
      return { algorithm: 'SHA-256', session: true };
    default:
      return undefined; // e.g. SHA-512-256: not supported, skip that challenge
  }
}

/**
 * Every Digest challenge we can answer, in header order. Basic and other schemes, and Digest
 * challenges with an algorithm we do not implement, are skipped.
 */
export function parseDigestChallenges(wwwAuthenticate: string | string[]): DigestChallenge[] {
  const headers = Array.isArray(wwwAuthenticate) ? wwwAuthenticate : [wwwAuthenticate];
  const out: DigestChallenge[] = [];
  for (const header of headers) {
    for (const raw of parseRawChallenges(header)) {
      if (raw.scheme !== 'digest') continue;
      const realm = raw.params.get('realm');
      const nonce = raw.params.get('nonce');
      if (realm === undefined || nonce === undefined) continue;
      const alg = parseAlgorithm(raw.params.get('algorithm'));
      if (!alg) continue;
      const c: DigestChallenge = { realm, nonce, algorithm: alg.algorithm };
      if (alg.session) c.session = true;
      const qop = raw.params.get('qop');
      if (qop !== undefined) {
        c.qop = qop
          .split(',')
          .map((q) => q.trim().toLowerCase())
          .filter((q) => q !== '');
      }
      const opaque = raw.params.get('opaque');
      if (opaque !== undefined) c.opaque = opaque;
      if ((raw.params.get('stale') ?? '').toLowerCase() === 'true') c.stale = true;
      out.push(c);
    }
  }
  return out;
}

/**
 * The challenge to answer: SHA-256 over MD5 (RFC 7616 §3.7 lets the client pick the strongest it
 * supports), then one with qop=auth over one without (RFC 2069 style, which AXIS OS and other
 * embedded servers may still send: answered, because the issue's field reports show cameras that
 * offer nothing else); among equals the first one, the server's preference. A challenge offering
 * qop but not "auth" (auth-int only) cannot be answered without hashing the body, so it is skipped.
 */
export function pickChallenge(challenges: DigestChallenge[]): DigestChallenge | undefined {
  const usable = challenges.filter((c) => (c.qop === undefined ? !c.session : c.qop.includes('auth')));
  const rank = (c: DigestChallenge): number => (c.algorithm === 'SHA-256' ? 2 : 0) + (c.qop !== undefined ? 1 : 0);
  let best: DigestChallenge | undefined;
  for (const c of usable) if (best === undefined || rank(c) > rank(best)) best = c;
  return best;
}

function quote(v: string): string {
  return `"${v.replace(/(["\\])/g, '\\$1')}"`;
}

function formatNc(nc: number): string {
  if (!Number.isInteger(nc) || nc < 1 || nc > 0xffffffff) {
    throw new RangeError(`digest nonce count must be an integer 1..4294967295, got ${nc}`);
  }
  return nc.toString(16).padStart(8, '0');
}

export function digestResponse(
  c: DigestChallenge,
  cred: DigestCredentials,
  req: { method: string; uri: string },
  ncHex: string,
  cnonce: string,
  qop: 'auth' | undefined,
): string {
  let ha1 = h(c.algorithm, `${cred.username}:${c.realm}:${cred.password}`);
  if (c.session) ha1 = h(c.algorithm, `${ha1}:${c.nonce}:${cnonce}`);
  const ha2 = h(c.algorithm, `${req.method}:${req.uri}`);
  // Without qop (RFC 2069, kept by RFC 2617 §3.2.2.1): no client nonce and no count in the hash.
  if (qop === undefined) return h(c.algorithm, `${ha1}:${c.nonce}:${ha2}`);
  return h(c.algorithm, `${ha1}:${c.nonce}:${ncHex}:${cnonce}:${qop}:${ha2}`);
}

/**
 * The Authorization header value answering challenge `c` for one request. `nc` counts the
 * requests made with this nonce (1 for the first); `uri` is the request-target exactly as sent
 * (path and query).
 */
export function digestAuthorization(
  c: DigestChallenge,
  cred: DigestCredentials,
  req: { method: string; uri: string },
  nc: number,
  cnonce?: string,
): string {
  if (cred.username.includes('"') || cred.username.includes('\\')) {
    // RFC 7616 would need userhash or username*; cameras do not allow such names anyway.
    throw new RangeError('digest username must not contain " or \\ (choose a plain camera user name)');
  }
  const parts = [`username=${quote(cred.username)}`, `realm=${quote(c.realm)}`, `uri=${quote(req.uri)}`, `algorithm=${c.algorithm}${c.session ? '-sess' : ''}`, `nonce=${quote(c.nonce)}`];
  let response: string;
  if (c.qop === undefined) {
    // RFC 2069: the server chose the whole nonce, so a session algorithm (which needs a cnonce) cannot be answered.
    if (c.session) throw new RangeError('digest challenge asks for a -sess algorithm without qop, which has no client nonce to hash; this client cannot answer it');
    response = digestResponse(c, cred, req, '', '', undefined);
  } else {
    if (!c.qop.includes('auth')) {
      throw new RangeError(`digest challenge offers qop=${c.qop.join(',')} only; this client implements qop=auth`);
    }
    const ncHex = formatNc(nc);
    const cn = cnonce ?? randomBytes(16).toString('hex');
    response = digestResponse(c, cred, req, ncHex, cn, 'auth');
    parts.push(`nc=${ncHex}`, `cnonce=${quote(cn)}`, `qop=auth`);
  }
  parts.push(`response=${quote(response)}`);
  if (c.opaque !== undefined) parts.push(`opaque=${quote(c.opaque)}`);
  return `Digest ${parts.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// Server side

export interface DigestVerifier {
  /** WWW-Authenticate header values for a 401, most preferred algorithm first. */
  challenges(stale?: boolean): string[];
  verify(
    authorization: string | undefined,
    method: string,
    uri: string,
  ): { ok: true; username: string } | { ok: false; stale: boolean };
}

export interface DigestVerifierOptions {
  realm: string;
  /** username -> password */
  users: Record<string, string>;
  /** Offered in this order; RFC 7616 §3.7 asks servers to list the preferred one first. */
  algorithms: DigestAlgorithm[];
  /** How long a nonce stays valid; after that a correct answer gets `stale=true`. Default 5 min. */
  nonceTtlMs?: number;
  /** Send `opaque` in challenges (and require it back). Default true; AXIS OS 11 sends none. */
  opaque?: boolean;
  /** Name the algorithm in challenges. Default true; without it RFC 7616 §3.3 means MD5, as AXIS OS sends it. */
  algorithmParam?: boolean;
  /** A nonce answers one request: a second use, however correct, gets `stale=true` (seen from AXIS OS 11). */
  singleUseNonce?: boolean;
}

/** Most nonce counts remembered per nonce; a client past this gets a fresh nonce (stale). */
const MAX_NC_PER_NONCE = 4096;

export function createDigestVerifier(opts: DigestVerifierOptions): DigestVerifier {
  if (opts.algorithms.length === 0) throw new RangeError('createDigestVerifier: algorithms must not be empty');
  const ttl = opts.nonceTtlMs ?? 5 * 60_000;
  const secret = randomBytes(32);
  const opaque = opts.opaque === false ? undefined : randomBytes(16).toString('base64url');
  if (opts.algorithmParam === false && (opts.algorithms.length !== 1 || opts.algorithms[0] !== 'MD5')) {
    throw new RangeError('createDigestVerifier: without the algorithm parameter a challenge means MD5, so algorithms must be exactly [MD5]');
  }
  // nonce -> nonce counts already used. Entries die with their nonce (pruned on the way).
  const seen = new Map<string, { expires: number; ncs: Set<string> }>();

  const sign = (body: Buffer): Buffer => createHmac('sha256', secret).update(body).digest().subarray(0, 16);

  function issueNonce(): string {
    const body = Buffer.alloc(16);
    body.writeBigUInt64BE(BigInt(Date.now()), 0);
    randomBytes(8).copy(body, 8);
    return Buffer.concat([body, sign(body)]).toString('base64url');
  }

  /** undefined: forged or malformed; otherwise the issue time. */
  function nonceTime(nonce: string): number | undefined {
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== 32 || raw.toString('base64url') !== nonce) return undefined;
    const body = raw.subarray(0, 16);
    if (!timingSafeEqual(raw.subarray(16), sign(body))) return undefined;
    return Number(body.readBigUInt64BE(0));
  }

  function prune(now: number): void {
    for (const [n, e] of seen) if (e.expires <= now) seen.delete(n);
  }

  const fail = (stale = false) => ({ ok: false as const, stale });

  return {
    challenges(stale = false) {
      return opts.algorithms.map((alg) => {
        const parts = [`realm=${quote(opts.realm)}`, `qop="auth"`];
        if (opts.algorithmParam !== false) parts.push(`algorithm=${alg}`);
        parts.push(`nonce=${quote(issueNonce())}`);
        if (opaque !== undefined) parts.push(`opaque=${quote(opaque)}`);
        if (stale) parts.push('stale=true');
        return `Digest ${parts.join(', ')}`;
      });
    },

    verify(authorization, method, uri) {
      if (!authorization) return fail();
      const raw = parseRawChallenges(authorization)[0];
      if (!raw || raw.scheme !== 'digest') return fail();
      const p = raw.params;
      const username = p.get('username');
      const nonce = p.get('nonce');
      const response = p.get('response');
      const alg = parseAlgorithm(p.get('algorithm'));
      if (username === undefined || nonce === undefined || response === undefined || !alg) return fail();
      if (alg.session || !opts.algorithms.includes(alg.algorithm)) return fail();
      if (p.get('realm') !== opts.realm || (opaque !== undefined && p.get('opaque') !== opaque)) return fail();
      // The uri directive must name the resource actually requested (RFC 7616 §3.4.6), or a
      // captured header could be replayed against another resource.
      if (p.get('uri') !== uri) return fail();
      if (p.get('qop') !== 'auth') return fail();
      const nc = p.get('nc') ?? '';
      const cnonce = p.get('cnonce') ?? '';
      if (!/^[0-9a-fA-F]{8}$/.test(nc) || cnonce === '') return fail();
      if ((p.get('userhash') ?? 'false').toLowerCase() !== 'false') return fail();
      const password = Object.hasOwn(opts.users, username) ? opts.users[username] : undefined;
      if (password === undefined) return fail();
      const issued = nonceTime(nonce);
      if (issued === undefined) return fail();

      const challenge: DigestChallenge = { realm: opts.realm, nonce, algorithm: alg.algorithm };
      const expected = digestResponse(challenge, { username, password }, { method, uri }, nc, cnonce, 'auth');
      const got = Buffer.from(response.toLowerCase());
      const want = Buffer.from(expected);
      if (got.length !== want.length || !timingSafeEqual(got, want)) return fail();

      const now = Date.now();
      // Only a correct answer learns its nonce is stale, so a wrong password never looks like one.
      if (now - issued >= ttl || issued > now + 60_000) return fail(true);
      prune(now);
      let entry = seen.get(nonce);
      if (!entry) {
        entry = { expires: issued + ttl, ncs: new Set() };
        seen.set(nonce, entry);
      }
      const ncKey = nc.toLowerCase();
      // Remember every count rather than the highest one: concurrent requests may arrive out of order.
      if (entry.ncs.has(ncKey)) return fail();
      if (opts.singleUseNonce && entry.ncs.size > 0) return fail(true);
      if (entry.ncs.size >= MAX_NC_PER_NONCE) return fail(true);
      entry.ncs.add(ncKey);
      return { ok: true, username };
    },
  };
}
