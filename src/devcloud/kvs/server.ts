/**
 * devcloud's Kinesis Video Streams stand-in for live view: the control plane (channels and their
 * endpoints) and the signalling data plane (GetIceServerConfig and the WebSocket endpoints), each its
 * own HTTPS listener on loopback with devcloud's server certificate, as AWS serves them on different
 * hosts. Who may do what is iam.ts's: the IoT credentials provider adds camera sessions to the same
 * registry. docs/protocol-live.md.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/log.js';
import { ChannelStore } from './channels.js';
import { controlPlaneOperations } from './control-plane.js';
import type { CredentialsRegistry } from './iam.js';
import { serveSignedJson } from './json-api.js';
import type { RateLimit } from './router.js';
import { DEFAULT_IDLE_MS, startSignalling } from './signalling.js';

export interface KvsOptions {
  region: string;
  registry: CredentialsRegistry;
  tls: { cert: Buffer | string; key: Buffer | string };
  host?: string;
  log: Logger;
  now?: () => number;
  /** AWS's default account quota is far higher; devcloud bounds what it keeps in memory. */
  maxChannels?: number;
  rate?: RateLimit;
  idleMs?: number;
}

export interface KvsStandIn {
  /** https:// URL of the control plane (the `endpoint` of @aws-sdk/client-kinesis-video). */
  controlUrl: string;
  /** https:// URL of the signalling data plane; its WebSocket endpoints are at wss:// .../master and .../viewer. */
  signallingUrl: string;
  store: ChannelStore;
  stop(): Promise<void>;
}

async function listen(server: Server, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return `https://${host}:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export async function startKvs(opts: KvsOptions): Promise<KvsStandIn> {
  const host = opts.host ?? '127.0.0.1';
  const now = opts.now ?? Date.now;
  const store = new ChannelStore({ region: opts.region, maxChannels: opts.maxChannels ?? 1000, now });
  const apiOptions = { region: opts.region, registry: opts.registry, now, log: opts.log };

  const signallingServer = createServer({ cert: opts.tls.cert, key: opts.tls.key });
  const signalling = startSignalling({ ...apiOptions, server: signallingServer, store, rate: opts.rate ?? { perSecond: 20 }, idleMs: opts.idleMs ?? DEFAULT_IDLE_MS });
  signallingServer.on('request', (req, res) => void serveSignedJson(req, res, signalling.iceOperations, apiOptions));
  const signallingUrl = await listen(signallingServer, host);
  const wssBase = signallingUrl.replace(/^https:/, 'wss:');

  const operations = controlPlaneOperations(store, { wss: (role) => `${wssBase}/${role === 'MASTER' ? 'master' : 'viewer'}`, https: signallingUrl }, { onDelete: (c) => signalling.closeChannel(c) });
  const controlServer = createServer({ cert: opts.tls.cert, key: opts.tls.key }, (req, res) => void serveSignedJson(req, res, operations, apiOptions));
  let controlUrl: string;
  try {
    controlUrl = await listen(controlServer, host);
  } catch (err) {
    signalling.close();
    await close(signallingServer);
    throw err;
  }
  return {
    controlUrl,
    signallingUrl,
    store,
    stop: async () => {
      signalling.close();
      await Promise.all([close(signallingServer), close(controlServer)]);
    },
  };
}
