/**
 * The camera's HTTP side: HTTPS on the main port when it has a certificate with plain HTTP beside it
 * (as an Axis camera serves out of the box), and the service accounts' local virtual host. Each
 * listener authenticates with its own verifier, as the profile says (http-auth.ts).
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { DigestVerifier } from '../../protocol/digest.js';
import { basicVerifier, createVerifier } from './http-auth.js';
import type { CameraState } from './state.js';
import type { CameraTlsCertificate, ServiceAccounts } from './types.js';
import { vapixRequestHandler, type VapixRouterOptions } from './vapix/router.js';

export interface CameraListeners {
  readonly url: string;
  readonly port: number;
  readonly httpUrl: string;
  /** Every listening server with the verifier it authenticates with (the event stream upgrades on each). */
  readonly servers: { server: Server; verifier: DigestVerifier }[];
  readonly serviceAccounts: ServiceAccounts | undefined;
  readonly fingerprint256: string | undefined;
  setCertificate(pair: CameraTlsCertificate): void;
  close(): Promise<void>;
}

const urlHost = (h: string): string => (h.includes(':') ? `[${h}]` : h);
const fingerprintOf = (pair: CameraTlsCertificate | undefined): string | undefined => (pair ? new X509Certificate(pair.certPem).fingerprint256 : undefined);

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startListeners(cam: CameraState, router: VapixRouterOptions): Promise<CameraListeners> {
  const { opts, stats, realm, users, authPolicy, log } = cam;
  const verifier = createVerifier(authPolicy.http, realm, users);
  const httpsVerifier = createVerifier(authPolicy.https, realm, users);
  const httpServer = createServer(vapixRequestHandler(cam, router, verifier));
  let tlsCert = opts.tls;
  const httpsServer = tlsCert ? createHttpsServer({ cert: tlsCert.certPem, key: tlsCert.keyPem }, vapixRequestHandler(cam, router, httpsVerifier)) : undefined;
  // HTTPS counts a connection once its handshake is through: a refused handshake made no request.
  httpServer.on('connection', () => {
    stats.connections++;
  });
  httpsServer?.on('secureConnection', () => {
    stats.connections++;
  });
  const servers = httpsServer ? [{ server: httpsServer as Server, verifier: httpsVerifier }, { server: httpServer, verifier }] : [{ server: httpServer, verifier }];

  const host = opts.host ?? '127.0.0.1';
  const port = await listen(servers[0]!.server, opts.port ?? 0, host);
  const httpPort = httpsServer ? await listen(httpServer, 0, host) : port;
  const httpUrl = `http://${urlHost(host)}:${httpPort}`;
  const url = httpsServer ? `https://${urlHost(host)}:${port}` : httpUrl;
  log?.info({ url, httpUrl, serial: cam.identity.serialNumber, fingerprint256: fingerprintOf(tlsCert) }, 'camera simulator listening');

  let serviceAccounts: ServiceAccounts | undefined;
  if (opts.serviceAccountHost !== undefined) {
    // Service accounts: a realm and a user list of their own, so no credential works on both hosts.
    const serviceUsers: Record<string, string> = {};
    const serviceVerifier = opts.serviceAccountAuth === 'basic' ? basicVerifier(realm, serviceUsers) : createVerifier(authPolicy.http, realm, serviceUsers);
    const serviceServer = createServer(vapixRequestHandler(cam, router, serviceVerifier)).on('connection', () => {
      stats.connections++;
    });
    const serviceUrl = `http://${urlHost(opts.serviceAccountHost)}:${await listen(serviceServer, 0, opts.serviceAccountHost)}`;
    servers.push({ server: serviceServer, verifier: serviceVerifier });
    let issued = 0;
    serviceAccounts = {
      url: serviceUrl,
      issue(name) {
        // AXIS OS names the user after the requested name with a prefix (docs: "a0-testuser").
        const username = `a0-${name}`;
        const password = randomBytes(24).toString('base64url');
        serviceUsers[username] = password;
        cam.roles.set(username, 'admin');
        issued++;
        return { username, password };
      },
      revokeAll() {
        for (const u of Object.keys(serviceUsers)) delete serviceUsers[u];
      },
      get issued() {
        return issued;
      },
    };
  }

  return {
    url,
    port,
    httpUrl,
    servers,
    serviceAccounts,
    get fingerprint256() {
      return fingerprintOf(tlsCert);
    },
    setCertificate(pair) {
      if (!httpsServer) throw new Error('this camera simulator serves no HTTPS: start it with a tls certificate');
      httpsServer.setSecureContext({ cert: pair.certPem, key: pair.keyPem });
      tlsCert = pair;
      log?.info({ fingerprint256: fingerprintOf(pair) }, 'camera simulator certificate replaced');
    },
    async close() {
      const closed = servers.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve())));
      for (const { server } of servers) server.closeAllConnections();
      await Promise.all(closed);
    },
  };
}
