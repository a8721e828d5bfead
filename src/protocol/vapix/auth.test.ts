/**
 * The authentication rules of auth.ts against scripted HTTP and HTTPS servers that answer the way
 * Axis documents it on developer.axis.com/vapix/authentication:
 * - "When you make your first request, send it without authentication information. If the device
 *   requires authentication, it responds with a 401 Unauthorized HTTP status code and a
 *   WWW-Authenticate header that details the supported authentication method."
 * - Basic "encodes credentials instead of encrypting them ... unsuitable for HTTP connections,
 *   however you can use this authentication method safely with HTTPS".
 * - Digest "is more secure than basic access authentication for unencrypted connections".
 * The challenge shapes (one MD5 challenge without algorithm or opaque; `Basic realm="AXIS_<serial>"`
 * over HTTPS on AXIS OS 12; stale=true on a reused nonce) are the ones issue 19 reports from real
 * cameras; what only a real camera can confirm is marked in docs/protocol-vapix.md [VAPIX-auth].
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { Agent} from 'node:http';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cameraCertificate } from '../../../test/helpers/field.js';
import { rejectionOf } from '../../../test/helpers/rejection.js';
import { pinnedAgent } from '../camera-tls.js';
import { describeAuthScheme, type VapixCredentialSource } from './auth.js';
import { VapixClient } from './client.js';
import { VapixError } from './errors.js';

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;
const REALM = 'AXIS_B8A44F000001';
const USER = 'root';
const PASSWORD = 'pass-word 1';
const BASIC_OK = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const OK_JSON = '{"apiVersion":"1.3","data":{"propertyList":{"SerialNumber":"B8A44F000001"}}}';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

let tls: { certPem: string; keyPem: string };
beforeAll(async () => {
  tls = await cameraCertificate();
});

async function serve(handler: Handler, o: { https?: boolean; host?: string } = {}): Promise<{ base: string; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    seen.push(req);
    handler(req, res, seen.length);
  };
  const server: Server = o.https ? createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, onRequest) : createServer(onRequest);
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((r) => server.listen(0, host, r));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { base: `${o.https ? 'https' : 'http'}://${host}:${(server.address() as AddressInfo).port}`, seen };
}

function client(base: string, agent?: Agent, credentials?: VapixCredentialSource): VapixClient {
  const auth = credentials ? { credentials } : { username: USER, password: PASSWORD };
  return new VapixClient({ baseUrl: base, timeoutMs: 3000, ...auth, ...(agent ? { agent } : {}) });
}

function pinned(): HttpsAgent {
  const { fingerprint256 } = new X509Certificate(tls.certPem);
  const agent = pinnedAgent({ fingerprint256, certificatePem: tls.certPem });
  cleanups.push(() => Promise.resolve(agent.destroy()));
  return agent;
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
function param(req: IncomingMessage, name: string): string | undefined {
  const m = new RegExp(`(?:^|[ ,])${name}=(?:"([^"]*)"|([^,\\s]+))`).exec(req.headers.authorization ?? '');
  return m ? (m[1] ?? m[2]) : undefined;
}

/** Checks an answer to a challenge without qop, as an AXIS OS server would (RFC 2617 §3.2.2.1). */
function rfc2069Valid(req: IncomingMessage, nonce: string): boolean {
  const ha1 = md5(`${USER}:${REALM}:${PASSWORD}`);
  const ha2 = md5(`${req.method}:${req.url}`);
  return param(req, 'response') === md5(`${ha1}:${nonce}:${ha2}`) && param(req, 'nonce') === nonce;
}

function ok(res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(OK_JSON);
}
function basicOnly(res: ServerResponse): void {
  res.writeHead(401, { 'WWW-Authenticate': `Basic realm="${REALM}"` });
  res.end();
}
/** A camera that asks for Basic only and accepts the right password (AXIS OS 12 over HTTPS). */
const basicCamera: Handler = (req, res) => (req.headers.authorization === BASIC_OK ? ok(res) : basicOnly(res));

describe('Digest as cameras send it', () => {
  it('the first request goes without credentials; one MD5 challenge without algorithm or opaque is answered with qop=auth', async () => {
    const { base, seen } = await serve((req, res, n) => {
      if (n === 1) {
        res.writeHead(401, { 'WWW-Authenticate': `Digest realm="${REALM}", nonce="n1", qop="auth"` });
        return res.end();
      }
      ok(res);
    });
    const c = client(base);
    await c.basicDeviceInfo();
    expect(seen[0]!.headers.authorization).toBeUndefined();
    expect(seen[1]!.headers.authorization).toMatch(/^Digest /);
    expect(param(seen[1]!, 'qop')).toBe('auth');
    expect(param(seen[1]!, 'opaque')).toBeUndefined();
    expect(describeAuthScheme(c.authScheme)).toBe('Digest MD5 (qop=auth)');
  });

  it('a challenge without qop (RFC 2069) is answered with the RFC 2069 response, and nothing else', async () => {
    const { base, seen } = await serve((req, res) => {
      if (req.headers.authorization && rfc2069Valid(req, 'n2069')) return ok(res);
      res.writeHead(401, { 'WWW-Authenticate': `Digest realm="${REALM}", nonce="n2069"` });
      res.end();
    });
    const c = client(base);
    await c.basicDeviceInfo();
    expect(seen).toHaveLength(2);
    expect(param(seen[1]!, 'nc')).toBeUndefined();
    expect(describeAuthScheme(c.authScheme)).toBe('Digest MD5 (without qop, RFC 2069)');
  });

  it('SHA-256 is chosen over MD5 when both are offered, and opaque is echoed', async () => {
    const { base, seen } = await serve((req, res, n) => {
      if (n === 1) {
        res.writeHead(401, [
          ['WWW-Authenticate', `Digest realm="${REALM}", nonce="m", algorithm=MD5, qop="auth", opaque="o1"`],
          ['WWW-Authenticate', `Digest realm="${REALM}", nonce="s", algorithm=SHA-256, qop="auth", opaque="o2"`],
        ]);
        return res.end();
      }
      ok(res);
    });
    const c = client(base);
    await c.basicDeviceInfo();
    expect([param(seen[1]!, 'algorithm'), param(seen[1]!, 'opaque')]).toEqual(['SHA-256', 'o2']);
  });

  it('stale=true on a reused nonce: answered once with the new nonce, without asking the credential source again', async () => {
    let renewals = 0;
    const source: VapixCredentialSource = {
      current: () => Promise.resolve({ username: USER, password: PASSWORD }),
      renew: (c) => {
        renewals++;
        return Promise.resolve(c);
      },
      refusedHint: 'check the account',
    };
    let nonce = 0;
    const used = new Set<string>();
    const { base, seen } = await serve((req, res) => {
      const n = param(req, 'nonce');
      if (n !== undefined && !used.has(n)) {
        used.add(n);
        return ok(res);
      }
      res.writeHead(401, { 'WWW-Authenticate': `Digest realm="${REALM}", nonce="N${++nonce}", qop="auth"${n !== undefined ? ', stale=true' : ''}` });
      res.end();
    });
    const c = client(base, undefined, source);
    await c.basicDeviceInfo();
    await c.basicDeviceInfo(); // reuses N1: stale=true, answered with N2
    expect(seen.map((r) => param(r, 'nonce') ?? '-')).toEqual(['-', 'N1', 'N1', 'N2']);
    expect(renewals).toBe(0);
  });
});

describe('Basic only where nobody can read it', () => {
  it('over HTTPS with a pinned certificate: the Basic-only camera gets Basic after its 401, then up front', async () => {
    const { base, seen } = await serve(basicCamera, { https: true });
    const c = client(base, pinned());
    expect((await c.basicDeviceInfo())['SerialNumber']).toBe('B8A44F000001');
    await c.basicDeviceInfo();
    expect(seen.map((r) => r.headers.authorization ?? '-')).toEqual(['-', BASIC_OK, BASIC_OK]);
    expect(describeAuthScheme(c.authScheme)).toMatch(/^Basic over HTTPS/);
  });

  it('over HTTPS whose certificate is not verified (rejectUnauthorized off): no Basic, a message naming the pin', async () => {
    const { base, seen } = await serve(basicCamera, { https: true });
    const agent = new HttpsAgent({ rejectUnauthorized: false });
    cleanups.push(() => Promise.resolve(agent.destroy()));
    const err = await rejectionOf(client(base, agent).basicDeviceInfo(), VapixError);
    expect(err.kind).toBe('auth');
    expect(err.message).toMatch(/certificate was not verified.*pin/);
    expect(seen.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it('over plain HTTP: never, nothing sent after the 401; the message says HTTPS', async () => {
    const { base, seen } = await serve(basicCamera);
    const err = await rejectionOf(client(base).basicDeviceInfo(), VapixError);
    expect(err.kind).toBe('auth');
    expect(err.message).toMatch(/plain HTTP would send the password readable.*nothing was sent.*HTTPS/);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers.authorization).toBeUndefined();
  });

  it('Digest is preferred when a camera offers Digest and Basic, even over verified HTTPS', async () => {
    const { base, seen } = await serve(
      (req, res) => {
        if (req.headers.authorization?.startsWith('Digest ')) return ok(res);
        res.writeHead(401, [
          ['WWW-Authenticate', `Basic realm="${REALM}"`],
          ['WWW-Authenticate', `Digest realm="${REALM}", nonce="d", qop="auth"`],
        ]);
        res.end();
      },
      { https: true },
    );
    await client(base, pinned()).basicDeviceInfo();
    expect(seen.map((r) => r.headers.authorization?.split(' ')[0] ?? '-')).toEqual(['-', 'Digest']);
  });

  it('wrong password over verified HTTPS: one Basic try, then a refusal naming the account', async () => {
    const { base, seen } = await serve((_req, res) => basicOnly(res), { https: true });
    const err = await rejectionOf(client(base, pinned()).basicDeviceInfo(), VapixError);
    expect(err.message).toMatch(/refused the credentials of user "root"/);
    expect(seen).toHaveLength(2);
  });

  it('a service account on the loopback virtual host still gets Basic over plain HTTP', async () => {
    const { base, seen } = await serve(basicCamera);
    const source: VapixCredentialSource = {
      current: () => Promise.resolve({ username: USER, password: PASSWORD }),
      renew: (c) => Promise.resolve(c),
      refusedHint: 'service account',
      basicOnLoopback: true,
    };
    const c = client(base, undefined, source);
    await c.basicDeviceInfo();
    expect(seen[1]!.headers.authorization).toBe(BASIC_OK);
    expect(describeAuthScheme(c.authScheme)).toBe("Basic to the camera's loopback host");
  });
});
