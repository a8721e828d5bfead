/**
 * In-process MQTT 3.1.1 broker (aedes) behind a mutual-TLS server, for machines without mosquitto.
 * Same ACL as mosquitto (acl.ts); the identity is the client certificate's CN, never the MQTT username.
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { createServer, TLSSocket } from 'node:tls';
import { Aedes, type AuthenticateError, type AuthErrorCode, type Client } from 'aedes';
import { attachThing, clientIdRefusal, isAllowed, mayPublish } from './acl.js';
import { BROKER_HOST, type Broker, type BrokerOptions } from './types.js';
import type { Logger } from '../../lib/log.js';

/** CONNACK return code 5, "not authorized" (MQTT 3.1.1 table 3.1). */
const NOT_AUTHORIZED = 5 as AuthErrorCode;
/**
 * aedes closes the connection when authorizePublish fails. mosquitto instead drops a denied publish
 * and keeps the client; to match it, a denied publish is re-addressed to a topic that no grant covers
 * (wildcards never match `$` topics) and that authorizeForward refuses to deliver.
 */
const DROPPED_TOPIC = '$cloudcam/acl-denied';

function peerIdentity(client: Client): string | undefined {
  const conn = client.conn;
  if (!(conn instanceof TLSSocket) || !conn.authorized) return undefined;
  const cn: unknown = conn.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' && cn.length > 0 ? cn : undefined;
}

export async function startAedes(opts: BrokerOptions & { log: Logger }): Promise<Broker> {
  const { log, pki } = opts;
  const [ca, cert, key, crl] = await Promise.all([
    readFile(pki.caCertPath),
    readFile(pki.server.certPath),
    readFile(pki.server.keyPath),
    readFile(pki.crlPath),
  ]);
  const identities = new WeakMap<Client, string>();
  for (const [identity, thing] of Object.entries(opts.attached ?? {})) attachThing(identity, thing);

  const aedes = await Aedes.createBroker({
    authenticate(client, _username, _password, done) {
      const identity = peerIdentity(client);
      // Decided before aedes looks for an existing session with this id, so a refused spoof never
      // takes over the real device's connection (AWS: iot:Connect on client/${iot:Connection.Thing.ThingName}).
      const why = identity === undefined ? 'no verified client certificate' : clientIdRefusal(identity, client.id);
      if (identity !== undefined && why === undefined) {
        identities.set(client, identity);
        done(null, true);
        return;
      }
      log.warn({ clientId: client.id, identity }, `MQTT connect refused: ${why}`);
      const err: AuthenticateError = Object.assign(new Error(why), { returnCode: NOT_AUTHORIZED });
      done(err, false);
    },
    authorizePublish(client, packet, done) {
      const identity = client ? identities.get(client) : undefined;
      if (identity === undefined || !mayPublish(identity, packet.topic)) {
        log.warn({ identity, topic: packet.topic }, 'publish denied by ACL, dropped');
        packet.topic = DROPPED_TOPIC;
        packet.retain = false;
      }
      done(null);
    },
    authorizeSubscribe(client, sub, done) {
      const identity = identities.get(client);
      if (identity === undefined || !isAllowed(identity, sub.topic)) {
        log.warn({ identity, topic: sub.topic }, 'subscribe denied by ACL');
        done(null, null); // SUBACK 0x80 for this filter; the connection stays up
        return;
      }
      done(null, sub);
    },
    // Delivery check too (as mosquitto's read ACL), so nothing reaches a client outside its grants.
    authorizeForward(client, packet) {
      const identity = identities.get(client);
      return identity !== undefined && isAllowed(identity, packet.topic) ? packet : null;
    },
  });
  // The connected clients, so revoke() can find an identity's live connections.
  const connected = new Set<Client>();
  aedes.on('client', (client) => connected.add(client));
  aedes.on('clientDisconnect', (client) => connected.delete(client));
  aedes.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'aedes client error'));
  aedes.on('connectionError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'aedes connection error'));

  const sockets = new Set<Socket>();
  const server = createServer(
    { ca, cert, key, crl, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    (socket) => aedes.handle(socket),
  );
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake refused'));

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, BROKER_HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    throw new Error(`aedes broker cannot listen on ${BROKER_HOST}:${opts.port ?? 0}: ${(err as Error).message}`, { cause: err });
  }
  const { port } = server.address() as AddressInfo;
  log.info({ port }, 'aedes broker ready');
  const stop = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  return {
    kind: 'aedes',
    host: BROKER_HOST,
    port,
    url: `mqtts://${BROKER_HOST}:${port}`,
    mqttVersions: [4],
    async cloudClientOptions() {
      const [cloudCert, cloudKey] = await Promise.all([readFile(pki.cloud.certPath), readFile(pki.cloud.keyPath)]);
      return { protocol: 'mqtts', host: BROKER_HOST, port, ca, cert: cloudCert, key: cloudKey, rejectUnauthorized: true };
    },
    attach(identity, thing) {
      attachThing(identity, thing);
      return Promise.resolve();
    },
    async revoke(identity) {
      // New handshakes: Node checks client certificates against the secure context's CRL.
      server.setSecureContext({ ca, cert, key, crl: await readFile(pki.crlPath) });
      const live = [...connected].filter((c) => identities.get(c) === identity);
      await Promise.all(live.map((c) => new Promise<void>((resolve) => c.close(() => resolve()))));
      log.info({ identity, closed: live.length }, 'certificate revoked: live connections closed');
    },
    stop,
    // stop() already cuts every socket without a goodbye: from a client's side that is a crash.
    kill: stop,
  };
}
