/**
 * A TCP proxy on 127.0.0.1 that injects one fault into the next connection, for fault tests, and
 * counts the bytes clients send through it (what left the client, TLS handshakes included).
 */
import net from 'node:net';

export type ProxyFault =
  /**
   * Forwards only this many request bytes upstream and drops the rest, then cuts both sides once the
   * client has sent its whole request (headers and Content-Length bytes of body). The server never
   * gets the whole request, and the client, having sent all of it, cannot tell how much arrived.
   * Waiting for the whole request makes this independent of timing: cutting as soon as the limit is
   * reached would let a client still writing see the cut before its last byte left (a different,
   * retryable case), or not, depending on scheduling.
   */
  | { kind: 'cut-request-after'; bytes: number }
  /** Forwards the whole request, then cuts the client off when the server answers (answer lost). */
  | { kind: 'drop-response' };

export interface FaultProxy {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Faults injected so far. */
  readonly injected: number;
  /** Bytes received from clients so far, over all connections. */
  readonly clientBytes: number;
  /** The fault for the next connection (one connection only). */
  arm(fault: ProxyFault): void;
  stop(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let next: ProxyFault | undefined;
  let connections = 0;
  let injected = 0;
  let clientBytes = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    connections += 1;
    const fault = next;
    next = undefined;
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    let cutDone = false;
    const cut = (): void => {
      if (cutDone) return;
      cutDone = true;
      injected += 1;
      client.destroy();
      upstream.destroy();
    };
    let sent = 0;
    let received = 0;
    let head = Buffer.alloc(0); // kept only until the headers are in
    let requestLength: number | undefined; // headers + body, once the headers are in
    client.on('data', (chunk: Buffer) => {
      clientBytes += chunk.length;
      if (cutDone) return;
      if (fault?.kind !== 'cut-request-after') {
        upstream.write(chunk);
        return;
      }
      const forward = chunk.subarray(0, Math.max(0, fault.bytes - sent));
      sent += forward.length;
      if (forward.length > 0) upstream.write(forward);
      received += chunk.length;
      if (requestLength === undefined) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head.subarray(0, end).toString('latin1'));
        if (!length) throw new Error('cut-request-after needs a request with a Content-Length');
        requestLength = end + 4 + Number(length[1]);
        head = Buffer.alloc(0);
      }
      if (received >= requestLength) upstream.write(Buffer.alloc(0), cut);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (fault?.kind === 'drop-response') return cut();
      client.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    get injected() {
      return injected;
    },
    get clientBytes() {
      return clientBytes;
    },
    arm(fault) {
      next = fault;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
