/** A TCP proxy on 127.0.0.1 that injects one fault into the next connection, for fault tests. */
import net from 'node:net';

export type ProxyFault =
  /** Forwards this many request bytes, then cuts both sides (the upload dies mid-body). */
  | { kind: 'cut-request-after'; bytes: number }
  /** Forwards the whole request, then cuts the client off when the server answers (answer lost). */
  | { kind: 'drop-response' };

export interface FaultProxy {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Faults injected so far. */
  readonly injected: number;
  /** The fault for the next connection (one connection only). */
  arm(fault: ProxyFault): void;
  stop(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let next: ProxyFault | undefined;
  let connections = 0;
  let injected = 0;
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
    client.on('data', (chunk: Buffer) => {
      if (cutDone) return;
      if (fault?.kind === 'cut-request-after' && sent + chunk.length > fault.bytes) {
        upstream.write(chunk.subarray(0, fault.bytes - sent), cut);
        sent = fault.bytes;
        return;
      }
      sent += chunk.length;
      upstream.write(chunk);
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
    arm(fault) {
      next = fault;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
