/**
 * VapixClient against small scripted HTTP servers, for replies the camera simulator does not make
 * (the authentication rules have their own file, auth.test.ts):
 * stale nonces, broken JSON, non-JPEG snapshots, oversized headers.
 */
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { VapixClient } from './client.js';
import { VapixError } from './errors.js';
import { rejectionOf } from '../../../test/helpers/rejection.js';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 0xff, 0xd9]);

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function serve(handler: Handler): Promise<{ client: VapixClient; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req);
    handler(req, res, seen.length);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const agent = new Agent({ keepAlive: true });
  cleanups.push(async () => {
    agent.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const { port } = server.address() as AddressInfo;
  const client = new VapixClient({
    baseUrl: `http://127.0.0.1:${port}`,
    username: 'op',
    password: 'pw-secret',
    timeoutMs: 2000,
    agent,
  });
  return { client, seen };
}

function challenge(res: ServerResponse, nonce: string, stale = false): void {
  res.writeHead(401, {
    'WWW-Authenticate': `Digest realm="r", qop="auth", algorithm=SHA-256, nonce="${nonce}"${stale ? ', stale=true' : ''}`,
  });
  res.end('401');
}

function authParam(req: IncomingMessage, name: string): string | undefined {
  const h = req.headers.authorization ?? '';
  return new RegExp(`${name}="?([^",]*)"?`).exec(h)?.[1];
}

const failure = (p: Promise<unknown>): Promise<VapixError> => rejectionOf(p, VapixError);

describe('digest flow', () => {
  it('answers a stale nonce with the new one, then reuses it with the next nonce count', async () => {
    const { client, seen } = await serve((req, res, n) => {
      const nonce = authParam(req, 'nonce');
      if (n === 1) return challenge(res, 'A');
      if (n === 2) return challenge(res, 'B', true); // A answered correctly but expired
      if (nonce === 'B') {
        res.writeHead(200, { 'Content-Type': 'image/jpeg' });
        return res.end(JPEG);
      }
      return challenge(res, 'C');
    });
    const { jpeg } = await client.captureJpeg({ maxBytes: 1000 });
    expect(jpeg.equals(JPEG)).toBe(true);
    expect(seen.map((r) => authParam(r, 'nonce') ?? '-')).toEqual(['-', 'A', 'B']);
    expect(authParam(seen[2]!, 'nc')).toBe('00000001');

    await client.captureJpeg({ maxBytes: 1000 });
    expect(seen).toHaveLength(4); // no new challenge needed
    expect(authParam(seen[3]!, 'nonce')).toBe('B');
    expect(authParam(seen[3]!, 'nc')).toBe('00000002');
  });

  it("gives up with 'auth' when the camera keeps calling fresh nonces stale", async () => {
    const { client, seen } = await serve((_req, res, n) => challenge(res, `N${n}`, n > 1));
    const err = await failure(client.captureJpeg({ maxBytes: 1000 }));
    expect(err.kind).toBe('auth');
    expect(seen).toHaveLength(3);
  });

  it('never sends the password, only the digest', async () => {
    const { client, seen } = await serve((_req, res, n) => {
      if (n === 1) return challenge(res, 'A');
      res.writeHead(200, { 'Content-Type': 'image/jpeg' });
      res.end(JPEG);
    });
    await client.captureJpeg({ maxBytes: 1000 });
    const header = seen[1]!.headers.authorization!;
    expect(header).toMatch(/^Digest /);
    expect(header).not.toContain('pw-secret');
  });
});

describe('replies that are not what was asked for', () => {
  it("a text reply to image.cgi is 'not-jpeg', quoting it", async () => {
    const { client } = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('Error: video source unavailable');
    });
    const err = await failure(client.captureJpeg({ maxBytes: 1000 }));
    expect(err.kind).toBe('not-jpeg');
    expect(err.message).toMatch(/video source unavailable/);
  });

  it("a JPEG without its end marker is 'not-jpeg'", async () => {
    const { client } = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'image/jpeg' });
      res.end(JPEG.subarray(0, JPEG.length - 2));
    });
    expect((await failure(client.captureJpeg({ maxBytes: 1000 }))).kind).toBe('not-jpeg');
  });

  it("a Content-Length above maxBytes is 'too-large' before any body byte arrives", async () => {
    const { client } = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': 50_000_000 });
      res.flushHeaders(); // and never send the body
    });
    const t0 = performance.now();
    const err = await failure(client.captureJpeg({ maxBytes: 1_000_000 }));
    expect(err.kind).toBe('too-large');
    expect(err.message).toMatch(/Content-Length 50000000/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("a chunked body cut off mid-way is 'truncated'", async () => {
    const { client } = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'image/jpeg' });
      res.write(JPEG.subarray(0, 6), () => res.socket?.destroy());
    });
    expect((await failure(client.captureJpeg({ maxBytes: 1000 }))).kind).toBe('truncated');
  });

  it("basicdeviceinfo: broken JSON and JSON errors are 'http' with the camera's words", async () => {
    let reply = '{"apiVersion":"1.0"';
    const { client } = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(reply);
    });
    const e1 = await failure(client.basicDeviceInfo());
    expect([e1.kind, e1.message]).toEqual(['http', expect.stringMatching(/invalid JSON/)]);
    reply = JSON.stringify({ apiVersion: '1.0', error: { code: 2003, message: 'Requested API version is not supported' } });
    const e2 = await failure(client.basicDeviceInfo());
    expect(e2.message).toMatch(/2003 Requested API version is not supported/);
  });

  it("a 404 is 'http' 404 pointing at the camera URL", async () => {
    const { client } = await serve((_req, res) => {
      res.writeHead(404);
      res.end('no such thing');
    });
    const err = await failure(client.listParams('Time'));
    expect([err.kind, err.status]).toEqual(['http', 404]);
    expect(err.message).toMatch(/camera\.url/);
  });
});

describe('constructor', () => {
  it('names the setting to fix', () => {
    const base = { baseUrl: 'http://127.0.0.1', username: 'u', password: 'p', timeoutMs: 1000 };
    expect(() => new VapixClient({ ...base, baseUrl: 'not a url' })).toThrow(/camera\.url/);
    expect(() => new VapixClient({ ...base, baseUrl: 'ftp://cam' })).toThrow(/camera\.url/);
    expect(() => new VapixClient({ ...base, timeoutMs: 0 })).toThrow(/camera\.timeoutMs/);
    expect(() => new VapixClient({ ...base, username: '' })).toThrow(/camera\.username/);
  });
});
