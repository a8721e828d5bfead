import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createDigestVerifier,
  digestAuthorization,
  parseDigestChallenges,
  pickChallenge,
  type DigestChallenge,
} from './digest.js';

// RFC 7616 §3.9.1 worked example (password "Circle of Life", lower-case "of", see erratum 4495).
const RFC = {
  realm: 'http-auth@example.org',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  uri: '/dir/index.html',
  cred: { username: 'Mufasa', password: 'Circle of Life' },
  md5: '8ca523f5e9506fed4657c9700eebdbec',
  sha256: '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
};

const RFC_HEADERS = [
  `Digest realm="${RFC.realm}", qop="auth, auth-int", algorithm=SHA-256, nonce="${RFC.nonce}", opaque="${RFC.opaque}"`,
  `Digest realm="${RFC.realm}", qop="auth, auth-int", algorithm=MD5, nonce="${RFC.nonce}", opaque="${RFC.opaque}"`,
];

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

function param(header: string, name: string): string | undefined {
  const m = new RegExp(`(?:^|[ ,])${name}=("([^"]*)"|[^,\\s]+)`).exec(header);
  return m ? (m[2] ?? m[1]) : undefined;
}

describe('parseDigestChallenges', () => {
  it('reads both RFC 7616 challenges, given as two header lines', () => {
    const cs = parseDigestChallenges(RFC_HEADERS);
    expect(cs).toEqual([
      { realm: RFC.realm, nonce: RFC.nonce, opaque: RFC.opaque, qop: ['auth', 'auth-int'], algorithm: 'SHA-256' },
      { realm: RFC.realm, nonce: RFC.nonce, opaque: RFC.opaque, qop: ['auth', 'auth-int'], algorithm: 'MD5' },
    ]);
  });

  it('reads several challenges folded into one header, skipping Basic and unknown algorithms', () => {
    const header =
      'Basic realm="AXIS_ACCC8E000000", Digest realm="AXIS_ACCC8E000000", nonce="n1", algorithm=SHA-512-256, qop="auth", ' +
      'Digest realm="AXIS_ACCC8E000000", nonce="n2, with comma", algorithm=MD5-sess, qop="auth", stale=TRUE, ' +
      'Negotiate abc/def==, Digest realm="r\\"q", nonce=n3';
    const cs = parseDigestChallenges(header);
    expect(cs).toEqual([
      { realm: 'AXIS_ACCC8E000000', nonce: 'n2, with comma', algorithm: 'MD5', session: true, qop: ['auth'], stale: true },
      { realm: 'r"q', nonce: 'n3', algorithm: 'MD5' },
    ]);
  });

  it('returns nothing for Basic-only or garbage headers', () => {
    expect(parseDigestChallenges('Basic realm="x"')).toEqual([]);
    expect(parseDigestChallenges('')).toEqual([]);
    expect(parseDigestChallenges(',,, =;; "')).toEqual([]);
    expect(parseDigestChallenges('Digest realm="x"')).toEqual([]); // no nonce
  });
});

describe('pickChallenge', () => {
  it('prefers SHA-256 whatever the order', () => {
    const cs = parseDigestChallenges([...RFC_HEADERS].reverse());
    expect(pickChallenge(cs)?.algorithm).toBe('SHA-256');
  });
  it('skips auth-int-only challenges', () => {
    const cs: DigestChallenge[] = [
      { realm: 'r', nonce: 'a', algorithm: 'SHA-256', qop: ['auth-int'] },
      { realm: 'r', nonce: 'b', algorithm: 'MD5', qop: ['auth'] },
    ];
    expect(pickChallenge(cs)?.nonce).toBe('b');
    expect(pickChallenge([])).toBeUndefined();
  });
});

describe('digestAuthorization (RFC 7616 §3.9.1 worked example)', () => {
  for (const [alg, expected] of [
    ['SHA-256', RFC.sha256],
    ['MD5', RFC.md5],
  ] as const) {
    it(`computes the RFC's ${alg} response`, () => {
      const c = parseDigestChallenges(RFC_HEADERS).find((x) => x.algorithm === alg);
      expect(c).toBeDefined();
      const header = digestAuthorization(c!, RFC.cred, { method: 'GET', uri: RFC.uri }, 1, RFC.cnonce);
      expect(header.startsWith('Digest ')).toBe(true);
      expect(param(header, 'response')).toBe(expected);
      expect(param(header, 'nc')).toBe('00000001');
      expect(param(header, 'qop')).toBe('auth');
      expect(param(header, 'cnonce')).toBe(RFC.cnonce);
      expect(param(header, 'opaque')).toBe(RFC.opaque);
      expect(param(header, 'algorithm')).toBe(alg);
      expect(param(header, 'uri')).toBe(RFC.uri);
      expect(param(header, 'username')).toBe('Mufasa');
    });
  }

  it('computes the -sess form by the RFC formula', () => {

    const sess: DigestChallenge = { realm: 'r', nonce: 'n', algorithm: 'MD5', session: true, qop: ['auth'] };
    const hs = digestAuthorization(sess, RFC.cred, { method: 'GET', uri: '/x' }, 255, 'cn');
    const ha1 = md5(`${md5('Mufasa:r:Circle of Life')}:n:cn`);
    expect(param(hs, 'response')).toBe(md5(`${ha1}:n:000000ff:cn:auth:${md5('GET:/x')}`));
    expect(param(hs, 'algorithm')).toBe('MD5-sess');

  });

  it('answers a challenge without qop the RFC 2069 way (RFC 2617 §3.2.2.1: no nc, cnonce or qop), preferring one with qop', () => {
    // developer.axis.com/vapix/authentication: use the method the device's WWW-Authenticate names.
    const old: DigestChallenge = { realm: 'AXIS_ACCC8E000000', nonce: 'n0', algorithm: 'MD5' };
    const header = digestAuthorization(old, RFC.cred, { method: 'GET', uri: '/axis-cgi/param.cgi?action=list' }, 1);
    const ha1 = md5('Mufasa:AXIS_ACCC8E000000:Circle of Life');
    expect(param(header, 'response')).toBe(md5(`${ha1}:n0:${md5('GET:/axis-cgi/param.cgi?action=list')}`));
    expect(param(header, 'qop')).toBeUndefined();
    expect(param(header, 'nc')).toBeUndefined();
    expect(param(header, 'cnonce')).toBeUndefined();
    expect(pickChallenge([old])).toBe(old);
    expect(pickChallenge([old, { ...old, qop: ['auth'] }])).toMatchObject({ algorithm: 'MD5', qop: ['auth'] });
    expect(pickChallenge([{ ...old, qop: ['auth'] }, { ...old, algorithm: 'SHA-256' }])).toMatchObject({ algorithm: 'SHA-256' });
    // A -sess algorithm needs a client nonce, which RFC 2069 has not.
    expect(pickChallenge([{ ...old, session: true }])).toBeUndefined();
  });

  it('rejects a bad nonce count and an unanswerable qop with a clear message', () => {
    const c: DigestChallenge = { realm: 'r', nonce: 'n', algorithm: 'MD5', qop: ['auth'] };
    expect(() => digestAuthorization(c, RFC.cred, { method: 'GET', uri: '/' }, 0)).toThrow(/nonce count/);
    expect(() =>
      digestAuthorization({ ...c, qop: ['auth-int'] }, RFC.cred, { method: 'GET', uri: '/' }, 1),
    ).toThrow(/qop=auth-int/);
  });
});

describe('createDigestVerifier', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const users = { root: 'pass word', viewer: 'v' };
  const make = (nonceTtlMs?: number) =>
    createDigestVerifier({ realm: 'AXIS_TEST', users, algorithms: ['SHA-256', 'MD5'], nonceTtlMs });

  function answer(v: ReturnType<typeof make>, alg: 'MD5' | 'SHA-256', password: string, nc = 1, uri = '/a?b=c') {
    const c = parseDigestChallenges(v.challenges()).find((x) => x.algorithm === alg);
    if (!c) throw new Error('no challenge');
    return { c, header: digestAuthorization(c, { username: 'root', password }, { method: 'GET', uri }, nc) };
  }

  it('offers SHA-256 first, then MD5, with qop=auth', () => {
    const cs = parseDigestChallenges(make().challenges());
    expect(cs.map((c) => c.algorithm)).toEqual(['SHA-256', 'MD5']);
    expect(cs.every((c) => c.qop?.join() === 'auth' && c.realm === 'AXIS_TEST' && !c.stale)).toBe(true);
    expect(parseDigestChallenges(make().challenges(true)).every((c) => c.stale)).toBe(true);
  });

  it('accepts correct answers for both algorithms', () => {
    const v = make();
    for (const alg of ['MD5', 'SHA-256'] as const) {
      expect(v.verify(answer(v, alg, 'pass word').header, 'GET', '/a?b=c')).toEqual({ ok: true, username: 'root' });
    }
  });

  it('rejects a wrong password, an unknown user, a wrong method or uri, and no header', () => {
    const v = make();
    expect(v.verify(answer(v, 'SHA-256', 'wrong').header, 'GET', '/a?b=c')).toEqual({ ok: false, stale: false });
    const { header } = answer(v, 'MD5', 'pass word');
    expect(v.verify(header, 'POST', '/a?b=c')).toEqual({ ok: false, stale: false });
    expect(v.verify(header, 'GET', '/other')).toEqual({ ok: false, stale: false });
    expect(v.verify(header.replace('username="root"', 'username="nobody"'), 'GET', '/a?b=c').ok).toBe(false);
    expect(v.verify(undefined, 'GET', '/a?b=c')).toEqual({ ok: false, stale: false });
    expect(v.verify('Basic cm9vdDpwYXNz', 'GET', '/a?b=c')).toEqual({ ok: false, stale: false });
  });

  it('rejects a nonce it did not sign', () => {
    const v = make();
    const c: DigestChallenge = { ...parseDigestChallenges(v.challenges())[0]!, nonce: 'forged' };
    const header = digestAuthorization(c, { username: 'root', password: 'pass word' }, { method: 'GET', uri: '/' }, 1);
    expect(v.verify(header, 'GET', '/')).toEqual({ ok: false, stale: false });
    // A nonce from another verifier (another secret) is just as foreign.
    const other = make();
    expect(other.verify(answer(v, 'MD5', 'pass word', 1, '/').header, 'GET', '/')).toEqual({ ok: false, stale: false });
  });

  it('rejects a replayed nonce count but accepts new counts, also out of order', () => {
    const v = make();
    const c = parseDigestChallenges(v.challenges())[0]!;
    const at = (nc: number) =>
      digestAuthorization(c, { username: 'root', password: 'pass word' }, { method: 'GET', uri: '/x' }, nc);
    const first = at(1);
    expect(v.verify(first, 'GET', '/x').ok).toBe(true);
    expect(v.verify(first, 'GET', '/x')).toEqual({ ok: false, stale: false });
    expect(v.verify(at(3), 'GET', '/x').ok).toBe(true);
    expect(v.verify(at(2), 'GET', '/x').ok).toBe(true);
    expect(v.verify(at(3), 'GET', '/x').ok).toBe(false);
  });

  it('answers stale=true to a correct answer with an expired nonce, and stale=false to a wrong one', () => {
    vi.useFakeTimers({ now: new Date('2026-11-01T00:00:00Z') });
    const v = make(1000);
    const good = answer(v, 'SHA-256', 'pass word').header;
    const bad = answer(v, 'SHA-256', 'nope').header;
    vi.setSystemTime(new Date('2026-11-01T00:00:01.5Z'));
    expect(v.verify(good, 'GET', '/a?b=c')).toEqual({ ok: false, stale: true });
    expect(v.verify(bad, 'GET', '/a?b=c')).toEqual({ ok: false, stale: false });
  });
});

describe('createDigestVerifier shaped like an AXIS OS camera', () => {
  it('without algorithm and opaque: one MD5 challenge as real cameras send it, answered and accepted', () => {
    const v = createDigestVerifier({ realm: 'AXIS_B8A44F000000', users: { root: 'pw' }, algorithms: ['MD5'], opaque: false, algorithmParam: false });
    const [raw] = v.challenges();
    expect(raw).not.toMatch(/algorithm|opaque/);
    const c = pickChallenge(parseDigestChallenges(raw!))!;
    expect(c).toMatchObject({ algorithm: 'MD5', qop: ['auth'] });
    expect(v.verify(digestAuthorization(c, { username: 'root', password: 'pw' }, { method: 'GET', uri: '/x' }, 1), 'GET', '/x').ok).toBe(true);
    expect(() => createDigestVerifier({ realm: 'r', users: {}, algorithms: ['SHA-256'], algorithmParam: false })).toThrow(/exactly \[MD5\]/);
  });

  it('singleUseNonce: a second correct use of a nonce gets stale=true, a wrong one stale=false', () => {
    const v = createDigestVerifier({ realm: 'AXIS_X', users: { root: 'pw' }, algorithms: ['MD5'], opaque: false, singleUseNonce: true });
    const c = parseDigestChallenges(v.challenges())[0]!;
    const at = (nc: number, password = 'pw') => digestAuthorization(c, { username: 'root', password }, { method: 'GET', uri: '/x' }, nc);
    expect(v.verify(at(1), 'GET', '/x').ok).toBe(true);
    expect(v.verify(at(2), 'GET', '/x')).toEqual({ ok: false, stale: true });
    expect(v.verify(at(3, 'wrong'), 'GET', '/x')).toEqual({ ok: false, stale: false });
  });
});
