/**
 * Who is on the other end of a loopback TCP connection. Linux lists every TCP socket in
 * /proc/net/tcp and /proc/net/tcp6 with its local and remote address:port and its owner's uid
 * (the 8th column); the peer's socket is the row whose local end is the connection's remote end
 * and whose remote end is ours. Any process may read these files; none can forge its row.
 *
 * The camera's web server reaches the agent over loopback TCP (the manifest's reverseProxy target
 * is a URL, http://localhost:PORT), so the uid is what tells it apart from any other process on
 * the camera (docs/security.md, "A process on the camera").
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';

const TABLES = ['/proc/net/tcp', '/proc/net/tcp6'];
const LISTEN = '0A';

interface Row {
  local: string;
  remote: string;
  state: string;
  uid: number;
}

/** The kernel prints each 32-bit word of an address in host byte order, as %08X. */
function hexAddress(address: string): string[] {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  const word = (b: Buffer, at: number): string => (os.endianness() === 'LE' ? b.readUInt32LE(at) : b.readUInt32BE(at)).toString(16).toUpperCase().padStart(8, '0');
  const out: string[] = [];
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(v4)) {
    const bytes = Buffer.from(v4.split('.').map(Number));
    out.push(word(bytes, 0));
    // The same socket seen through a dual-stack (AF_INET6) socket: ::ffff:a.b.c.d.
    const mapped = Buffer.concat([Buffer.alloc(10), Buffer.from([0xff, 0xff]), bytes]);
    out.push([0, 4, 8, 12].map((i) => word(mapped, i)).join(''));
  } else if (v4 === '::1') {
    const one = Buffer.alloc(16);
    one[15] = 1;
    out.push([0, 4, 8, 12].map((i) => word(one, i)).join(''));
  }
  return out;
}

const endpoint = (hex: string, port: number): string => `${hex}:${port.toString(16).toUpperCase().padStart(4, '0')}`;

async function rows(): Promise<Row[]> {
  const out: Row[] = [];
  for (const table of TABLES) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 8) continue;
      out.push({ local: f[1] ?? '', remote: f[2] ?? '', state: f[3] ?? '', uid: Number(f[7]) });
    }
  }
  return out;
}

/** The uid owning the peer's end of a loopback connection; undefined when it cannot be told. */
export async function peerUid(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined; localAddress?: string | undefined; localPort?: number | undefined }): Promise<number | undefined> {
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (remoteAddress === undefined || remotePort === undefined || localAddress === undefined || localPort === undefined) return undefined;
  const peers = new Set(hexAddress(remoteAddress).map((h) => endpoint(h, remotePort)));
  const ours = new Set(hexAddress(localAddress).map((h) => endpoint(h, localPort)));
  const row = (await rows()).find((r) => peers.has(r.local) && ours.has(r.remote));
  return row && Number.isInteger(row.uid) ? row.uid : undefined;
}

/**
 * The uids allowed to use the local API when none are configured: the agent's own, root's (root
 * can read the key files anyway), and the owner(s) of the sockets listening on the camera's web
 * ports 80 and 443: only root can bind those, so no other process can make its uid appear there.
 */
export async function defaultPeerUids(): Promise<number[]> {
  const uids = new Set<number>([process.getuid?.() ?? 0, 0]);
  const web = new Set([80, 443].map((p) => p.toString(16).toUpperCase().padStart(4, '0')));
  for (const r of await rows()) if (r.state === LISTEN && web.has(r.local.split(':')[1] ?? '')) uids.add(r.uid);
  return [...uids].sort((a, b) => a - b);
}
