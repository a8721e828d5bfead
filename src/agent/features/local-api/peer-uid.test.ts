import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPeerUids, peerUid } from './peer-uid.js';

/** Real loopback connections (IPv4 and IPv6, from this process and from a child of another uid). */
describe('peerUid reads the uid of a loopback peer from /proc/net/tcp{,6}', () => {
  const servers: net.Server[] = [];
  const listen = async (host: string): Promise<{ port: number; next: () => Promise<Socket> }> => {
    const accepted: Socket[] = [];
    const waiting: ((s: Socket) => void)[] = [];
    const server = net.createServer((s) => {
      const w = waiting.shift();
      if (w) w(s);
      else accepted.push(s);
    });
    servers.push(server);
    server.listen(0, host);
    await once(server, 'listening');
    return { port: (server.address() as AddressInfo).port, next: () => new Promise((resolve) => (accepted.length > 0 ? resolve(accepted.shift()!) : waiting.push(resolve))) };
  };
  let v4: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    v4 = await listen('127.0.0.1');
  });
  afterAll(() => {
    for (const s of servers) s.close();
  });

  it('finds this process (IPv4 and IPv6 loopback)', async () => {
    const client = net.connect(v4.port, '127.0.0.1');
    const socket = await v4.next();
    expect(await peerUid(socket)).toBe(process.getuid!());
    client.destroy();
    const v6 = await listen('::1');
    const c6 = net.connect(v6.port, '::1');
    expect(await peerUid(await v6.next())).toBe(process.getuid!());
    c6.destroy();
  });

  it.runIf(process.getuid?.() === 0)('finds a child running as nobody (65534)', async () => {
    const child = spawn(process.execPath, ['-e', `const s = require('node:net').connect(${v4.port}, '127.0.0.1'); process.stdin.on('end', () => s.destroy()); process.stdin.resume();`], { uid: 65534, gid: 65534, stdio: ['pipe', 'inherit', 'inherit'], cwd: '/' });
    const socket = await v4.next();
    expect(await peerUid(socket)).toBe(65534);
    child.stdin.end();
    await once(child, 'close');
  });

  it('unknown endpoints have no uid; the default allows this process and root', async () => {
    expect(await peerUid({ remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 1 })).toBeUndefined();
    expect(await peerUid({})).toBeUndefined();
    expect(await defaultPeerUids()).toEqual(expect.arrayContaining([0, process.getuid!()]));
  });
});
