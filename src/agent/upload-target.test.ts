import { describe, expect, it } from 'vitest';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, issueCertificate } from '../devcloud/pki.js';
import { checkUploadTarget, isNonPublicAddress, nonPublicReason, pinnedAgent, pinnedPools, resolveUploadTarget, type LookupAll } from './upload-target.js';

const policy = { allowedHosts: ['*.amazonaws.com', 'uploads.example.com', '127.0.0.1:9000'], insecureHttpHosts: ['127.0.0.1:9000'] };

describe('checkUploadTarget', () => {
  it.each([
    ['https://my-bucket.s3.amazonaws.com/', true],
    ['https://my-bucket.s3.eu-west-1.amazonaws.com/', true],
    ['https://uploads.example.com/x', true],
    ['http://127.0.0.1:9000/bucket', true],
    ['https://amazonaws.com/', false], // *.suffix needs a subdomain
    ['https://evilamazonaws.com/', false],
    ['https://amazonaws.com.evil.net/', false],
    ['http://my-bucket.s3.amazonaws.com/', false], // http not allowed for that host
    ['http://127.0.0.1:9001/bucket', false], // port must match the host:port entry
    ['https://169.254.169.254/latest/meta-data', false],
    ['file:///etc/passwd', false],
    ['ftp://uploads.example.com/', false],
    ['https://user:pw@uploads.example.com/', false],
    ['not a url', false],
  ])('%s -> %s', (url, ok) => {
    const r = checkUploadTarget(url, policy);
    expect(r.ok).toBe(ok);
    if (!r.ok) expect(r.error.length).toBeGreaterThan(10);
  });

  it.each([
    // insecureHttpUploadHosts: host:port entries match that port; a bare host only port 80
    [{ allowedHosts: ['127.0.0.1:9000'], insecureHttpHosts: ['127.0.0.1:9000'] }, 'http://127.0.0.1:9000/b', true],
    [{ allowedHosts: ['127.0.0.1:9000'], insecureHttpHosts: ['127.0.0.1:9001'] }, 'http://127.0.0.1:9000/b', false],
    [{ allowedHosts: ['127.0.0.1:9000'], insecureHttpHosts: ['127.0.0.1'] }, 'http://127.0.0.1:9000/b', false],
    [{ allowedHosts: ['127.0.0.1'], insecureHttpHosts: ['127.0.0.1'] }, 'http://127.0.0.1/b', true],
    [{ allowedHosts: ['127.0.0.1'], insecureHttpHosts: ['127.0.0.1:80'] }, 'http://127.0.0.1:80/b', true],
    [{ allowedHosts: ['[::1]:9000'], insecureHttpHosts: ['[::1]:9000'] }, 'http://[::1]:9000/b', true],
    [{ allowedHosts: ['[::1]:9000'], insecureHttpHosts: ['[::1]'] }, 'http://[::1]:9000/b', false],
    // allowedUploadHosts: an exact host without a port allows only 443 (https); wildcards too
    [{ allowedHosts: ['uploads.example.com'], insecureHttpHosts: [] }, 'https://uploads.example.com/', true],
    [{ allowedHosts: ['uploads.example.com'], insecureHttpHosts: [] }, 'https://uploads.example.com:443/', true],
    [{ allowedHosts: ['uploads.example.com'], insecureHttpHosts: [] }, 'https://uploads.example.com:8443/', false],
    [{ allowedHosts: ['uploads.example.com:8443'], insecureHttpHosts: [] }, 'https://uploads.example.com:8443/', true],
    [{ allowedHosts: ['*.example.com'], insecureHttpHosts: [] }, 'https://b.example.com:22/', false],
  ])('%j: %s -> %s', (p, url, ok) => {
    expect(checkUploadTarget(url, p).ok).toBe(ok);
  });

  it('names the setting that would allow a refused host', () => {
    const r = checkUploadTarget('https://other.example.net/', policy);
    expect(r).toEqual({ ok: false, error: expect.stringContaining('snapshot.allowedUploadHosts') as unknown });
  });
});

describe('SSRF: non-public addresses', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['224.0.0.1', true],
    ['255.255.255.255', true],
    ['8.8.8.8', false],
    ['52.216.0.1', false],
    ['::', true],
    ['::1', true],
    ['fe80::1', true],
    ['febf::1', true],
    ['fd00::1', true],
    ['ff02::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:a9fe:a9fe', true],
    ['2600:1f18::1', false],
    ['not-an-ip', false],
  ])('%s -> non-public %s', (address, blocked) => {
    expect(isNonPublicAddress(address)).toBe(blocked);
  });

  it.each([
    // IPv6 transition and special ranges
    ['64:ff9b::a9fe:a9fe', 'NAT64 169.254.169.254, linkLocal'],
    ['64:ff9b::7f00:1', 'NAT64 127.0.0.1, loopback'],
    ['64:ff9b::a00:1', 'NAT64 10.0.0.1, private'],
    ['64:ff9b:1::a9fe:a9fe', 'NAT64 local-use prefix'],
    ['2002:a9fe:a9fe::1', '6to4'],
    ['2002:808:808::1', '6to4'], // refused outright, even around a public IPv4
    ['::1.2.3.4', 'IPv4-compatible (deprecated)'],
    ['::169.254.169.254', 'IPv4-compatible (deprecated)'],
    ['::ffff:169.254.169.254', 'IPv4-mapped 169.254.169.254, linkLocal'],
    ['::ffff:0:7f00:1', 'rfc6145'],
    ['fec0::1', 'deprecatedSiteLocal'],
    ['100::1', 'discard'],
    ['2001:db8::1', 'reserved'],
    ['2001::1', 'teredo'],
    ['2001:2::1', 'benchmarking'],
    ['5f00::1', 'segmentRouting'],
    ['4000::1', 'outside global unicast 2000::/3'],
    ['fe80::1%eth0', 'linkLocal'],
    // IPv4 special ranges
    ['0.1.2.3', 'unspecified'],
    ['100.127.255.255', 'carrierGradeNat'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'reserved'], // documentation
    ['198.18.0.1', 'reserved'], // benchmarking
    ['198.51.100.7', 'reserved'],
    ['203.0.113.7', 'reserved'],
    ['239.1.2.3', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
  ])('%s is non-public: %s', (address, reason) => {
    expect(nonPublicReason(address)).toBe(reason);
  });

  it.each(['64:ff9b::3418:a01', '::ffff:52.216.0.1', '2600:1f18:2000::1', '2a05:d07a:a0::1', '52.95.170.1'])('%s is public (NAT64 and mapped judged by the IPv4 inside)', (address) => {
    expect(nonPublicReason(address)).toBeUndefined();
  });

  it.each(['64:ff9b::a9fe:a9fe', '2002:a9fe:a9fe::1', '::7f00:1', 'fec0::1', '100::1', '2001:db8::1', '2001::a9fe:a9fe'])('a name that resolves to %s is refused', async (address) => {
    const r = await resolveUploadTarget('https://bucket.example.com/', { allowedHosts: ['*.example.com'], insecureHttpHosts: [] }, async () => [{ address, family: 6 }]);
    expect(r).toEqual({ ok: false, error: expect.stringContaining(`non-public address ${address} (`) as unknown });
  });

  // A wildcard entry can match an IP literal by accident ("*.0.1" matches 127.0.0.1); the address
  // rule still refuses it, and every spelling the URL parser normalises is caught.
  it.each([
    'https://127.0.0.1/',
    'https://2130706433/',
    'https://0x7f.0.0.1/',
    'https://0177.0.0.1/',
    'https://[::1]/',
    'https://[::ffff:127.0.0.1]/',
    'https://[fe80::1]/',
  ])('%s is refused even when a wildcard matches it', (url) => {
    const r = checkUploadTarget(url, { allowedHosts: ['*.0.1', '*.1]', '*.:1]'], insecureHttpHosts: [] });
    expect(r.ok).toBe(false);
  });

  it('an exact allow-list entry allows a loopback host (devcloud)', () => {
    expect(checkUploadTarget('http://127.0.0.1:9000/b', policy).ok).toBe(true);
    expect(checkUploadTarget('https://169.254.169.254/', { allowedHosts: ['169.254.169.254'], insecureHttpHosts: [] }).ok).toBe(true);
    expect(checkUploadTarget('https://169.254.169.254:8080/', { allowedHosts: ['169.254.169.254'], insecureHttpHosts: [] }).ok).toBe(false);
  });
});

describe('resolveUploadTarget', () => {
  const wildcard = { allowedHosts: ['*.example.com', 'dev.example.net'], insecureHttpHosts: [] };
  const resolvesTo = (...addresses: string[]): LookupAll => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it.each([
    ['169.254.169.254'],
    ['10.0.0.7'],
    ['127.0.0.1'],
    ['fe80::1'],
    ['::ffff:169.254.169.254'],
  ])('refuses a name that resolves to %s', async (address) => {
    const r = await resolveUploadTarget('https://bucket.example.com/', wildcard, resolvesTo(address));
    expect(r).toEqual({ ok: false, error: expect.stringContaining(`non-public address ${address}`) as unknown });
  });

  it('refuses when any of the addresses is non-public', async () => {
    const r = await resolveUploadTarget('https://bucket.example.com/', wildcard, resolvesTo('52.216.0.1', '127.0.0.1'));
    expect(r.ok).toBe(false);
  });

  it('returns the checked public address to connect to', async () => {
    const r = await resolveUploadTarget('https://bucket.example.com/', wildcard, resolvesTo('52.216.0.1', '52.216.0.2'));
    expect(r).toMatchObject({ ok: true, address: '52.216.0.1', family: 4 });
  });

  it('an exact entry may resolve to a private address (a dev host); a wildcard may not', async () => {
    expect(await resolveUploadTarget('https://dev.example.net/', wildcard, resolvesTo('127.0.0.1'))).toMatchObject({ ok: true, address: '127.0.0.1' });
  });

  it('never resolves a name that fails the static check', async () => {
    let lookups = 0;
    const r = await resolveUploadTarget('https://evil.example.org/', wildcard, async () => {
      lookups += 1;
      return [{ address: '52.216.0.1', family: 4 }];
    });
    expect(r.ok).toBe(false);
    expect(lookups).toBe(0);
  });

  it('reports a name that does not resolve', async () => {
    const r = await resolveUploadTarget('https://nothing.example.com/', wildcard, async () => {
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    });
    expect(r).toEqual({ ok: false, error: expect.stringContaining('ENOTFOUND') as unknown });
  });
});

/** GETs `url` through `agent` and resolves with the body as text. */
function getText(url: string, options: https.RequestOptions & { agent: http.Agent }): Promise<string> {
  const get = url.startsWith('https:') ? https.get : http.get;
  return new Promise<string>((resolve, reject) => {
    get(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('pinnedAgent', () => {
  it('connects to the checked address, never to a fresh DNS answer', async () => {
    const server = http.createServer((req, res) => res.end(`hello ${req.headers.host ?? ''}`));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const agent = pinnedAgent('http:', { address: '127.0.0.1', family: 4 });
    try {
      // .invalid never resolves (RFC 6761): the answer can only come from the pinned address.
      const text = await getText(`http://upload.invalid:${port}/`, { agent });
      expect(text).toBe(`hello upload.invalid:${port}`);
    } finally {
      agent.destroy();
      server.close();
    }
  });

  it('https: connects to the pinned address and verifies the certificate against the URL host name', async () => {
    const ca = await createCa('pinned-test-ca');
    const get = async (certFor: string): Promise<string> => {
      const leaf = await issueCertificate(ca, { commonName: certFor, usage: 'server', dnsNames: [certFor] });
      const server = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => res.end(`tls ${req.headers.host ?? ''}`));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      const agent = pinnedAgent('https:', { address: '127.0.0.1', family: 4 });
      try {
        return await getText(`https://upload.invalid:${port}/`, { agent, ca: ca.certPem });
      } finally {
        agent.destroy();
        server.close();
      }
    };
    expect(await get('upload.invalid')).toMatch(/^tls upload\.invalid:\d+$/);
    await expect(get('other.invalid')).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});

describe('pinnedPools', () => {
  const a = { address: '192.0.2.10', family: 4 as const };
  const b = { address: '192.0.2.11', family: 4 as const };

  it('keeps one pool per (origin, checked address) and reuses it', () => {
    const pools = pinnedPools(4);
    const first = pools.poolFor('https://bucket.example.com/', a);
    expect(pools.poolFor('https://bucket.example.com/other', a)).toBe(first);
    expect(pools.poolFor('https://bucket.example.com/', b)).not.toBe(first);
    expect(pools.poolFor('http://bucket.example.com/', a)).not.toBe(first);
    expect(first).toBeInstanceOf(https.Agent);
    pools.destroy();
  });

  it('closes the oldest pool past the bound and makes it anew when asked again', () => {
    const pools = pinnedPools(1);
    const first = pools.poolFor('https://bucket.example.com/', a);
    const destroyed: http.Agent[] = [];
    const destroy = first.destroy.bind(first);
    first.destroy = () => {
      destroyed.push(first);
      destroy();
    };
    pools.poolFor('https://bucket.example.com/', b);
    expect(destroyed).toEqual([first]);
    expect(pools.poolFor('https://bucket.example.com/', a)).not.toBe(first);
    pools.destroy();
  });
});
