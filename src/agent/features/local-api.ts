/**
 * The agent's local HTTP API on 127.0.0.1 only. On a camera nobody reaches it directly: the web
 * server reverse-proxies /local/cloudcam/api/ to it for admin users only (manifest
 * configuration.reverseProxy, access admin), so the camera's own digest auth guards it.
 * GET /status: thing, agent version, MQTT connection state and the device certificate's validity,
 * read by `cloudcam setup check`.
 * POST /certs: installs a device certificate, key and CA (cert-install.ts), sent by `cloudcam setup certs`.
 * Requests from anything but a loopback address are refused, should the listener ever be exposed.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/log.js';
import type { AgentConnection } from '../connection.js';
import type { Feature } from '../feature.js';
import { CERT_INSTALL_MAX_BYTES, CERT_INSTALL_PATH } from '../../protocol/cert-install.js';
import { createCertInstaller } from './cert-install.js';
import type { VapixAccess } from '../camera-access.js';

export interface AgentStatus {
  thingName: string;
  agentVersion: string;
  connected: boolean;
  /** ISO time of the last connect or disconnect. */
  since: string;
  lastDisconnectReason?: string;
  certificate?: { subject: string; issuer: string; notBefore: string; notAfter: string; fingerprint256: string };
  certificateError?: string;
  /** Which VAPIX credentials the agent uses (agent/camera-access.ts); absent from agents before 0.2. */
  vapixAccess?: VapixAccess;
}

export interface LocalApiFeature extends Feature {
  /** http://127.0.0.1:PORT once started. */
  url(): string | undefined;
}

export function createLocalApiFeature(opts: {
  port: number;
  connection: AgentConnection;
  thing: string;
  agentVersion: string;
  stateDir: string;
  vapixAccess: VapixAccess;
  log: Logger;
}): LocalApiFeature {
  const { connection, log } = opts;
  const installCerts = createCertInstaller({ connection, thing: opts.thing, stateDir: opts.stateDir, log });
  let since = new Date().toISOString();
  let lastDisconnectReason: string | undefined;
  const onConnected = (): void => {
    since = new Date().toISOString();
  };
  const onDisconnected = ({ reason }: { reason: string }): void => {
    since = new Date().toISOString();
    lastDisconnectReason = reason;
  };
  let server: Server | undefined;
  let url: string | undefined;

  async function status(): Promise<AgentStatus> {
    const out: AgentStatus = { thingName: opts.thing, agentVersion: opts.agentVersion, connected: connection.connected, since, vapixAccess: opts.vapixAccess };
    if (lastDisconnectReason !== undefined) out.lastDisconnectReason = lastDisconnectReason;
    const { certPath } = connection.tlsFiles;
    try {
      const cert = new X509Certificate(await readFile(certPath));
      out.certificate = {
        subject: cert.subject,
        issuer: cert.issuer,
        notBefore: new Date(cert.validFrom).toISOString(),
        notAfter: new Date(cert.validTo).toISOString(),
        fingerprint256: cert.fingerprint256,
      };
    } catch (err) {
      out.certificateError = `cannot read the device certificate ${certPath}: ${(err as Error).message}`;
    }
    return out;
  }

  return {
    name: 'local-api',
    url: () => url,
    async start() {
      connection.on('connected', onConnected);
      connection.on('disconnected', onDisconnected);
      const srv = createServer((req, res) => {
        const send = (code: number, body: unknown): void => {
          const buf = Buffer.from(JSON.stringify(body));
          res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': buf.length });
          res.end(buf);
        };
        if (!isLoopback(req.socket.remoteAddress)) {
          send(403, { error: 'the local API answers loopback clients only; use the camera\'s /local/cloudcam/api/ (admin)' });
          return;
        }
        const path = new URL(req.url ?? '/', 'http://agent').pathname;
        if (req.method === 'POST' && path === CERT_INSTALL_PATH) {
          readBody(req, CERT_INSTALL_MAX_BYTES)
            .then(async (body): Promise<{ status: number; body: unknown }> =>
              body === undefined ? { status: 413, body: { error: `the body is larger than ${CERT_INSTALL_MAX_BYTES} bytes: send one certificate, its key and the CA` } } : installCerts(body),
            )
            .then(
              (r) => send(r.status, r.body),
              (err: unknown) => send(500, { error: `certificate install failed: ${(err as Error).message}` }),
            );
          return;
        }
        if (req.method === 'GET' && path === '/status') {
          status().then(
            (s) => send(200, s),
            (err: unknown) => send(500, { error: (err as Error).message }),
          );
          return;
        }
        send(404, { error: `no ${req.method ?? ''} ${path}; the local API serves GET /status and POST ${CERT_INSTALL_PATH}` });
      });
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(opts.port, '127.0.0.1', () => {
          srv.off('error', reject);
          resolve();
        });
      }).catch((err: unknown) => {
        // The daemon keeps running without it: snapshots matter more than the status page.
        log.error({ event: 'local-api.failed', port: opts.port, err: (err as Error).message }, `local API cannot listen on 127.0.0.1:${opts.port}; set localApi.port to a free port`);
      });
      if (!srv.listening) return;
      server = srv;
      url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
      log.info({ event: 'local-api.listening', url }, 'local API listening');
    },
    async stop() {
      connection.off('connected', onConnected);
      connection.off('disconnected', onDisconnected);
      const srv = server;
      server = undefined;
      url = undefined;
      if (!srv) return;
      await new Promise<void>((resolve) => {
        srv.close(() => resolve());
        srv.closeAllConnections();
      });
    },
  };
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (a dual-stack socket's view of 127.0.0.1). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** The body as text, or undefined once it passes maxBytes (the rest is not read). */
function readBody(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(size > maxBytes ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
