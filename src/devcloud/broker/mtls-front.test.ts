import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect as connectTcp, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log.js';
import { ensurePki, type DevPki } from '../pki.js';
import { startMtlsFront, type MtlsFront } from './mtls-front.js';

describe('mTLS front: a verified client that never completes its CONNECT', () => {
  let dir: string;
  let pki: DevPki;
  let upstream: Server;
  let front: MtlsFront;
  let upstreamConnections = 0;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cloudcam-front-'));
    pki = await ensurePki(path.join(dir, 'pki'), ['camera-1']);
    const upstreamPath = path.join(dir, 'mosquitto.sock');
    upstream = createServer((s) => {
      upstreamConnections += 1;
      s.destroy();
    });
    await new Promise<void>((r) => upstream.listen(upstreamPath, r));
    front = await startMtlsFront({
      host: '127.0.0.1',
      ca: await readFile(pki.caCertPath),
      cert: await readFile(pki.server.certPath),
      key: await readFile(pki.server.keyPath),
      crl: await readFile(pki.crlPath),
      upstreamPath,
      passwordOf: () => 'x',
      connectTimeoutMs: 200,
      log: createLogger({ name: 'front-test', level: 'silent' }),
    });
  });

  afterAll(async () => {
    await front.close();
    await new Promise((r) => upstream.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  async function deviceSocket(): Promise<TLSSocket> {
    const socket = connect({
      host: '127.0.0.1',
      port: front.port,
      ca: await readFile(pki.caCertPath),
      cert: await readFile(pki.devices['camera-1']!.certPath),
      key: await readFile(pki.devices['camera-1']!.keyPath),
      servername: 'localhost',
    });
    await once(socket, 'secureConnect');
    return socket;
  }

  it('drops a silent connection after the CONNECT deadline', async () => {
    const socket = await deviceSocket();
    const started = Date.now();
    await once(socket, 'close');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(upstreamConnections).toBe(0);
  });

  it('drops a connection that trickles a CONNECT it never finishes', async () => {
    const socket = await deviceSocket();
    socket.on('error', () => undefined);
    socket.write(Buffer.from([0x10, 0x40, 0x00, 0x04])); // CONNECT header announcing 64 bytes, 2 sent
    await once(socket, 'close');
    expect(upstreamConnections).toBe(0);
  });
});

/**
 * The front before TLS: issue 20 found a TCP connection that never started TLS still open after 200 s
 * (Node's handshakeTimeout did not end it) and no cap, so any local process could use up devcloud's
 * descriptors. Each test starts its own front with short limits.
 */
describe('mTLS front: connections that never finish a TLS handshake', () => {
  let dir: string;
  let pki: DevPki;
  const fronts: MtlsFront[] = [];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cloudcam-front-'));
    pki = await ensurePki(path.join(dir, 'pki'), ['camera-1']);
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(fronts.map((f) => f.close()));
    await rm(dir, { recursive: true, force: true });
  });

  async function startFront(limits: { handshakeTimeoutMs: number; maxPendingHandshakes?: number }): Promise<MtlsFront> {
    const front = await startMtlsFront({
      host: '127.0.0.1',
      ca: await readFile(pki.caCertPath),
      cert: await readFile(pki.server.certPath),
      key: await readFile(pki.server.keyPath),
      crl: await readFile(pki.crlPath),
      upstreamPath: path.join(dir, 'no-mosquitto.sock'),
      passwordOf: () => 'x',
      ...limits,
      log: createLogger({ name: 'front-test', level: 'silent' }),
    });
    fronts.push(front);
    return front;
  }

  async function rawSocket(port: number): Promise<Socket> {
    const socket = connectTcp({ host: '127.0.0.1', port });
    sockets.push(socket);
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    return socket;
  }

  async function tlsHandshake(port: number): Promise<TLSSocket> {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca: await readFile(pki.caCertPath),
      cert: await readFile(pki.devices['camera-1']!.certPath),
      key: await readFile(pki.devices['camera-1']!.keyPath),
      servername: 'localhost',
    });
    socket.on('error', () => undefined);
    await once(socket, 'secureConnect');
    return socket;
  }

  it('closes a raw TCP connection that never starts TLS at the handshake deadline', async () => {
    const front = await startFront({ handshakeTimeoutMs: 300 });
    const socket = await rawSocket(front.port);
    const started = Date.now();
    await once(socket, 'close');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('the deadline is absolute: a client trickling a ClientHello a byte at a time is closed by it too', async () => {
    const front = await startFront({ handshakeTimeoutMs: 400 });
    const socket = await rawSocket(front.port);
    // A TLS record header announcing a 512-byte handshake message, then a byte every 50 ms.
    socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
    const trickle = setInterval(() => socket.writable && socket.write(Buffer.from([0x01])), 50);
    try {
      await once(socket, 'close');
    } finally {
      clearInterval(trickle);
    }
  });

  it('a handshake finished in time is not cut by the deadline afterwards', async () => {
    const front = await startFront({ handshakeTimeoutMs: 300 });
    const socket = await tlsHandshake(front.port);
    // The CONNECT deadline (10 s by default) is what applies now; the handshake's must not fire.
    await new Promise((r) => setTimeout(r, 500));
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });

  it('refuses a connection beyond the cap on pending handshakes, and accepts again once one ends', async () => {
    const front = await startFront({ handshakeTimeoutMs: 60_000, maxPendingHandshakes: 3 });
    const held = [await rawSocket(front.port), await rawSocket(front.port), await rawSocket(front.port)];
    const refused = await rawSocket(front.port);
    await once(refused, 'close');
    expect(held.map((s) => s.destroyed)).toEqual([false, false, false]);
    // The slot a held connection frees is usable: a camera's handshake then succeeds.
    held[0]!.destroy();
    await new Promise((r) => setImmediate(r));
    await expect.poll(async () => {
      const socket = await tlsHandshake(front.port).catch(() => undefined);
      socket?.destroy();
      return socket !== undefined;
    }).toBe(true);
    expect(held.slice(1).map((s) => s.destroyed)).toEqual([false, false]);
  });
});
