import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
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
