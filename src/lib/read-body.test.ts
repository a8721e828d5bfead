import { request, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readBoundedBody } from './read-body.js';

describe('readBoundedBody', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  /** POSTs `body` to a server that answers with what readBoundedBody gave it (413 when undefined). */
  async function post(body: Buffer, maxBytes: number): Promise<{ status: number; text: string }> {
    server = createServer((req, res) => {
      void readBoundedBody(req, maxBytes).then((got) => {
        if (got === undefined) res.writeHead(413).end('too large');
        else res.writeHead(200).end(got);
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new Promise((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', method: 'POST', headers: { 'content-length': body.length } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('gives the whole body up to the bound', async () => {
    expect(await post(Buffer.from('x'.repeat(1000)), 1000)).toEqual({ status: 200, text: 'x'.repeat(1000) });
  });

  it('gives undefined past the bound, and the listener can still answer on the connection', async () => {
    expect(await post(Buffer.alloc(256 * 1024, 1), 1000)).toEqual({ status: 413, text: 'too large' });
  });
});
