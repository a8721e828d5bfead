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
  /** A client that has not sent its whole CONNECT by then is dropped (default 10 s). */
  connectTimeoutMs?: number;
  /** A TCP connection whose TLS handshake has not finished by then (from accept) is dropped (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Connections still in their handshake at once; one more is closed at accept (default 512). */
  maxPendingHandshakes?: number;
  log: Logger;
}

export interface MtlsFront {
  readonly port: number;
  /** Takes a new CRL for later handshakes and cuts `identity`'s live connections; returns how many. */
  revoke(identity: string, crl: Buffer): number;
  /**
   * mosquitto died (a crash, or kill()): stop listening, refuse every CONNECT still to come, and let
   * each relayed connection end only once mosquitto's side of it has closed, so whatever mosquitto
   * wrote before it died (a reply, a DISCONNECT) still reaches the client, as it would over a socket
   * of mosquitto's own. Resolves when no connection to mosquitto is left.
   */
  brokerGone(): Promise<void>;
  /** Stops listening and cuts every connection. */
  close(): Promise<void>;
}

/**
 * The connections accepted but not yet through their TLS handshake. Node's own `handshakeTimeout`
 * did not end a TCP connection that never sent a ClientHello (issue 20: still open after 200 s), and a
 * tls.Server has no cap of its own: any local process could hold descriptors open for ever. So each
 * accepted socket gets an absolute deadline (not an idle timeout a trickle of bytes would reset), and
 * beyond `max` at once a new connection is closed at accept. The TLS socket handed to the listener is
 * matched to its TCP socket by the remote address and port, unique among a listener's live sockets.
 */
function pendingHandshakes(opts: { timeoutMs: number; max: number; log: Logger }): { accepted(socket: Socket): void; finished(client: TLSSocket): void } {
  const pending = new Map<string, { socket: Socket; timer: NodeJS.Timeout }>();
  const peer = (s: Socket): string => `${s.remoteAddress ?? ''}|${s.remotePort ?? ''}`;
  let refusedSinceLog = 0;
  return {
    accepted(socket) {
      if (pending.size >= opts.max) {
        // Logged once per burst, not per connection: the flood itself must not flood the log.
        if (refusedSinceLog++ === 0) opts.log.warn({ max: opts.max }, 'MQTT connection refused: too many TLS handshakes in progress');
        socket.destroy();
        return;
      }
      refusedSinceLog = 0;
      const key = peer(socket);
      // Checked one turn of the loop later, like the CONNECT deadline: a loop blocked past the deadline
      // (500 agents in one process) first finishes the handshakes that arrived meanwhile.
      const timer = setTimeout(() => {
        setImmediate(() => {
          if (pending.get(key)?.socket !== socket) return;
          pending.delete(key);
          opts.log.debug({ timeoutMs: opts.timeoutMs }, 'MQTT connection dropped: no TLS handshake in time');
          socket.destroy();
        });
      }, opts.timeoutMs);
      timer.unref();
      pending.set(key, { socket, timer });
      socket.once('close', () => {
        if (pending.get(key)?.socket !== socket) return;
        clearTimeout(timer);
        pending.delete(key);
      });
    },
    finished(client) {
      const key = peer(client);
      const entry = pending.get(key);
      if (entry === undefined) return;
      clearTimeout(entry.timer);
      pending.delete(key);
    },
  };
}

export async function startMtlsFront(opts: MtlsFrontOptions): Promise<MtlsFront> {
  const { log } = opts;
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  /** The connections to mosquitto's socket, each closed when its client or mosquitto goes. */
  const upstreams = new Set<Socket>();
  let gone = false;

  const clients = new Map<TLSSocket, string>();
  /** Clients whose CONNECT went on to mosquitto. */
  const relayed = new WeakSet<TLSSocket>();
  const serve = (client: TLSSocket): void => {
    const identity = certificateCn(client);
    if (identity === undefined || gone) return void client.destroy();
    clients.set(client, identity);
    client.once('close', () => clients.delete(client));
    let buffered = Buffer.alloc(0);
    // A verified client that never completes its CONNECT would hold a socket here for ever (and
    // mosquitto would never see it to time it out): drop it, as a broker drops a silent connection.
    // The check waits one turn of the loop (setImmediate runs after the poll phase): when the loop
    // was blocked past the deadline (500 agents in one process), a CONNECT that arrived meanwhile is
    // read first instead of being dropped with its connection.
    let connected = false;
    const deadline = setTimeout(() => {
      setImmediate(() => {
        if (connected || client.destroyed) return;
        log.debug({ identity }, 'MQTT connection dropped: no CONNECT in time');
        client.destroy();
      });
    }, opts.connectTimeoutMs ?? 10_000);
    deadline.unref();
    client.once('close', () => clearTimeout(deadline));
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
      connected = true;
      clearTimeout(deadline);
      client.off('data', onData);
      client.pause();
      const why = clientIdRefusal(identity, connect.clientId);
      if (why !== undefined) {
        log.warn({ clientId: connect.clientId, identity }, `MQTT connect refused: ${why}`);
        client.end(notAuthorized(connect.level));
        return;
      }
      // mosquitto gone meanwhile: the client must see its connection fail (and reconnect, subscribing
      // again), never a CONNECT that waits for a broker that will not answer.
      if (gone) return void client.destroy();
      const upstream = connectUnix(opts.upstreamPath);
      track(upstream);
      upstreams.add(upstream);
      relayed.add(client);
      // 'close' follows every error; a socket that never reached mosquitto closes its client too.
      upstream.on('error', (err) => log.debug({ identity, err: err.message }, 'connection to mosquitto failed'));
      client.on('error', () => upstream.destroy());
      // end(), not destroy(): what mosquitto sent before closing (a CONNACK refusal, a DISCONNECT, a
      // reply written just before it was killed) is still delivered, then the client sees the close.
      upstream.once('close', () => {
        upstreams.delete(upstream);
        client.end();
      });
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

  const handshakes = pendingHandshakes({
    timeoutMs: opts.handshakeTimeoutMs ?? 10_000,
    max: opts.maxPendingHandshakes ?? 512,
    log,
  });
  const server = createServer(
    // The same TLS as aedes' listener (Node's): TLS 1.2 and 1.3; a certificate from another CA is
    // dropped after the handshake without an alert (Node checks it in JS).
    { ca: opts.ca, cert: opts.cert, key: opts.key, crl: opts.crl, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    (client) => {
      handshakes.finished(client);
      serve(client);
    },
  );
  server.on('connection', (socket: Socket) => {
    track(socket);
    handshakes.accepted(socket);
  });
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
    async brokerGone() {
      gone = true;
      server.close();
      // Handshakes and CONNECTs not yet relayed have no broker to go to.
      for (const client of clients.keys()) if (!relayed.has(client)) client.destroy();
      await Promise.all([...upstreams].map((u) => new Promise<void>((resolve) => (u.closed ? resolve() : u.once('close', () => resolve())))));
    },
    async close() {
      gone = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
