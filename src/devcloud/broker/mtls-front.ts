/**
 * devcloud's mutual-TLS front for mosquitto. mosquitto 2.0.11 cannot refuse a CONNECT by client id
 * for a certificate identity (with `use_identity_as_username` it skips every auth plugin), so
 * devcloud terminates TLS itself, verifies the client certificate, refuses a client id that the AWS
 * policy would refuse (acl.ts) with CONNACK "not authorized" before mosquitto ever sees it, and
 * passes the connection on to mosquitto's unix socket with username = certificate CN and a password
 * only devcloud knows. A refused spoof therefore never takes over the real device's session.
 */
import { connect as connectUnix, type Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/log.js';
import { clientIdRefusal } from './acl.js';
import { notAuthorized, readConnect, withCredentials } from './connect-packet.js';

/** The verified client certificate's CN, or undefined. */
export function certificateCn(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const cn: unknown = socket.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' && cn.length > 0 ? cn : undefined;
}

export interface MtlsFrontOptions {
  host: string;
  port?: number;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** Deactivated certificates (pki.crlPath): refused in the handshake. */
  crl: Buffer;
  /** mosquitto's unix-socket listener. */
  upstreamPath: string;
  /** The password mosquitto's dynamic-security plugin knows for an identity. */
  passwordOf(identity: string): string;
  log: Logger;
}

export interface MtlsFront {
  readonly port: number;
  /** Takes a new CRL for later handshakes and cuts `identity`'s live connections; returns how many. */
  revoke(identity: string, crl: Buffer): number;
  /** Stops listening and cuts every connection. */
  close(): Promise<void>;
}

export async function startMtlsFront(opts: MtlsFrontOptions): Promise<MtlsFront> {
  const { log } = opts;
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const clients = new Map<TLSSocket, string>();
  const serve = (client: TLSSocket): void => {
    const identity = certificateCn(client);
    if (identity === undefined) return void client.destroy();
    clients.set(client, identity);
    client.once('close', () => clients.delete(client));
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      let connect;
      try {
        connect = readConnect(buffered);
      } catch (err) {
        log.debug({ identity, err: (err as Error).message }, 'MQTT connection dropped before CONNECT');
        return void client.destroy();
      }
      if (connect === undefined) return;
      client.off('data', onData);
      client.pause();
      const why = clientIdRefusal(identity, connect.clientId);
      if (why !== undefined) {
        log.warn({ clientId: connect.clientId, identity }, `MQTT connect refused: ${why}`);
        client.end(notAuthorized(connect.level));
        return;
      }
      const upstream = connectUnix(opts.upstreamPath);
      track(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
      client.once('close', () => upstream.destroy());
      upstream.write(withCredentials(connect, identity, opts.passwordOf(identity)));
      const rest = buffered.subarray(connect.bytes.length);
      if (rest.length > 0) upstream.write(rest);
      client.pipe(upstream);
      upstream.pipe(client);
    };
    client.on('data', onData);
    client.on('error', () => client.destroy());
  };

  const server = createServer(
    // The same TLS as aedes' listener (Node's): TLS 1.2 and 1.3; a certificate from another CA is
    // dropped after the handshake without an alert (Node checks it in JS).
    { ca: opts.ca, cert: opts.cert, key: opts.key, crl: opts.crl, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    serve,
  );
  server.on('connection', track);
  server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake refused'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    revoke(identity, crl) {
      server.setSecureContext({ ca: opts.ca, cert: opts.cert, key: opts.key, crl });
      let closed = 0;
      for (const [socket, cn] of clients) {
        if (cn !== identity) continue;
        socket.destroy();
        closed++;
      }
      return closed;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
