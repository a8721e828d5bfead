/**
 * The agent's local HTTP API on 127.0.0.1 only. On a camera nobody reaches it directly: the web
 * server reverse-proxies /local/cloudcam/api/ to it for admin users only (manifest
 * configuration.reverseProxy, access admin), so the camera's own digest auth guards it.
 * GET /status: thing, agent version, MQTT connection state, the device certificate's validity and the
 * installed identity's trial state, read by `cloudcam setup check` and `setup certs`.
 * POST /challenge: signs a nonce with the device key (protocol/challenge.ts), so `setup certs` knows
 * it talks to the agent before it sends a key.
 * POST /certs: installs a device certificate and key (cert-install.ts), sent by `cloudcam setup certs`.
 *
 * Every request passes, in order: a loopback peer address; a peer uid in localApi.allowedPeerUids
 * (local-api/peer-uid.ts: the web server, the agent itself, root); an origin-form path; a loopback
 * Host (DNS rebinding); for POSTs Content-Type application/json (cross-site forms). A request that
 * breaks anything gets a 4xx; nothing a client sends can throw out of the listener, and anything
 * that throws anyway is logged and answered 500. If the port is taken the agent keeps retrying.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readBoundedBody } from '../../lib/read-body.js';
import type { Feature, FeatureContext } from '../feature.js';
import { Backoff } from '../backoff.js';
import { CERT_INSTALL_MAX_BYTES, CERT_INSTALL_PATH } from '../../protocol/cert-install.js';
import { answerChallenge, CHALLENGE_MAX_BYTES, CHALLENGE_PATH, parseChallengeRequest } from '../../protocol/challenge.js';
import type { IdentityStatus, IdentityTrial } from '../provisioning/identity-trial.js';
import { createCertInstaller } from './cert-install.js';
import type { VapixAccess } from '../camera-access.js';
import { defaultPeerUids, peerUid } from './local-api/peer-uid.js';
import type { LiveReport } from '../../protocol/live-request.js';
import { contentTypeProblem, hostProblem, isLoopback, requestPath, type Refusal } from './local-api/request-checks.js';

export { isLoopback };

export interface AgentStatus {
  thingName: string;
  agentVersion: string;
  connected: boolean;
  /** ISO time of the last connect or disconnect. */
  since: string;
  lastDisconnectReason?: string;
  certificate?: { subject: string; issuer: string; notBefore: string; notAfter: string; fingerprint256: string };
  certificateError?: string;
  /** configured (nothing installed since start), trial (installed, not yet connected), confirmed, rolled-back (with the reason). */
  identity: IdentityStatus;
  /** Which VAPIX credentials the agent uses (agent/camera-access.ts); absent from older agents. */
  vapixAccess?: VapixAccess;
  /** Event snapshots' counters (features/events/), when triggers are configured: what was dropped and why. */
  events?: EventCounters;
  /** Live view (features/live/), when live.enabled: the same LiveReport the shadow's reported.live holds. */
  live?: LiveReport;
}

export interface EventCounters {
  /** The camera event stream: starting, connected, reconnecting, or `unsupported by this firmware` (absent from older agents). */
  state?: string;
  captured: number;
  uploaded: number;
  failed: number;
  droppedCooldown: number;
  droppedCap: number;
  droppedQueue: number;
  queued: number;
}

export interface LocalApiFeature extends Feature {
  /** http://127.0.0.1:PORT once started. */
  url(): string | undefined;
}

export function createLocalApiFeature(
  ctx: FeatureContext,
  opts: {
    trial: IdentityTrial;
    /** The event snapshots' counters, read at each GET /status. */
    eventCounters?: () => EventCounters | undefined;
    /** Live view's report, read at each GET /status. */
    liveReport?: () => LiveReport | undefined;
    /** How fast a taken port is retried (the default: 1 s, growing to 1 min). */
    bindRetry?: { minMs: number; maxMs: number };
  },
): LocalApiFeature {
  const { connection, thing, config } = ctx;
  const { port, allowedPeerUids } = config.localApi;
  const log = ctx.log.child({ feature: 'local-api' });
  const installCerts = createCertInstaller({ connection, thing, stateDir: config.stateDir, trial: opts.trial, log });
  let since = new Date().toISOString();
  let lastDisconnectReason: string | undefined;
  let server: Server | undefined;
  let url: string | undefined;
  let allowedUids: Set<number> | undefined;
  let bindTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  const sockets = new Set<Socket>();

  async function status(): Promise<AgentStatus> {
    const out: AgentStatus = { thingName: thing, agentVersion: ctx.version, connected: connection.connected, since, identity: opts.trial.status(), vapixAccess: ctx.cameraAccess.access };
    if (lastDisconnectReason !== undefined) out.lastDisconnectReason = lastDisconnectReason;
    const events = opts.eventCounters?.();
    if (events) out.events = events;
    const live = opts.liveReport?.();
    if (live) out.live = live;
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

  async function challenge(body: string): Promise<{ status: number; body: unknown }> {
    const request = parseChallengeRequest(body);
    if ('problem' in request) return { status: 400, body: { error: request.problem } };
    const { certPath, keyPath } = connection.tlsFiles;
    try {
      const [certificatePem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
      return { status: 200, body: answerChallenge(request.nonce, { thingName: thing, certificatePem, key: createPrivateKey(keyPem) }) };
    } catch (err) {
      return { status: 500, body: { error: `cannot sign with the device key (${(err as NodeJS.ErrnoException).code ?? 'unreadable'}): check iot.certPath and iot.keyPath` } };
    }
  }

  /** Why this peer may not use the API, or undefined. */
  async function peerProblem(req: IncomingMessage): Promise<Refusal | undefined> {
    if (!isLoopback(req.socket.remoteAddress)) {
      return { status: 403, error: "the local API answers loopback clients only; use the camera's /local/cloudcam/api/ (admin)" };
    }
    allowedUids ??= new Set(allowedPeerUids.length > 0 ? allowedPeerUids : await defaultPeerUids());
    const uid = await peerUid(req.socket);
    if (uid !== undefined && allowedUids.has(uid)) return undefined;
    log.warn(
      { event: 'local-api.peer-refused', uid: uid ?? null, allowed: [...allowedUids] },
      `refused a local API request from uid ${uid ?? '(unknown)'}; if that is the camera's web server, add it to localApi.allowedPeerUids`,
    );
    return { status: 403, error: `uid ${uid ?? '(unknown)'} may not use the local API: it answers the camera's web server (/local/cloudcam/api/, admin) only` };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (code: number, body: unknown): void => {
      const buf = Buffer.from(JSON.stringify(body));
      res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': buf.length, 'Cache-Control': 'no-store' });
      res.end(buf);
    };
    const refuse = (r: Refusal): void => {
      // Unread request bodies are not waited for: the connection closes after the refusal.
      res.setHeader('Connection', 'close');
      send(r.status, { error: r.error });
    };
    const peer = await peerProblem(req);
    if (peer) return refuse(peer);
    const path = requestPath(req.url);
    if (path === undefined) return refuse({ status: 400, error: `the request target must be a path such as /status (got ${JSON.stringify((req.url ?? '').slice(0, 100))})` });
    const host = hostProblem(req.headers.host);
    if (host) return refuse(host);
    if (req.method === 'GET' && path === '/status') return send(200, await status());
    const post = req.method === 'POST' ? ({ [CERT_INSTALL_PATH]: { max: CERT_INSTALL_MAX_BYTES, run: installCerts }, [CHALLENGE_PATH]: { max: CHALLENGE_MAX_BYTES, run: challenge } } as Record<string, { max: number; run: (body: string) => Promise<{ status: number; body: unknown }> }>)[path] : undefined;
    if (!post) return refuse({ status: 404, error: `no ${(req.method ?? '').slice(0, 10)} ${path.slice(0, 100)}; the local API serves GET /status, POST ${CHALLENGE_PATH} and POST ${CERT_INSTALL_PATH}` });
    const type = contentTypeProblem(req);
    if (type) return refuse(type);
    const body = await readBody(req, post.max);
    if (body === undefined) return refuse({ status: 413, error: `the body is larger than ${post.max} bytes` });
    const r = await post.run(body);
    send(r.status, r.body);
  }

  function listenOnce(srv: Server): Promise<NodeJS.ErrnoException | undefined> {
    return new Promise((resolve) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        srv.off('listening', onListening);
        resolve(err);
      };
      const onListening = (): void => {
        srv.off('error', onError);
        resolve(undefined);
      };
      srv.once('error', onError);
      srv.once('listening', onListening);
      srv.listen(port, '127.0.0.1');
    });
  }

  /**
   * One attempt to listen; on failure the next is scheduled with backoff. The agent keeps running
   * (snapshots matter more than the local API) but says loudly, at error, that someone else holds
   * its port: whatever that is receives what the camera's web server forwards.
   */
  async function bind(srv: Server, backoff: Backoff): Promise<void> {
    const err = await listenOnce(srv);
    if (stopped) {
      if (!err) srv.close();
      return;
    }
    if (!err) {
      server = srv;
      url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
      log.info({ event: 'local-api.listening', url }, 'local API listening');
      return;
    }
    const delay = backoff.next();
    const fix =
      err.code === 'EADDRINUSE'
        ? `another process holds 127.0.0.1:${port} and receives what the camera forwards to /local/cloudcam/api/: find and stop it (ss -ltnp 'sport = :${port}'), or move localApi.port and the manifest's reverseProxy target to a free port`
        : 'check localApi.port';
    log.error(
      { event: 'local-api.failed', port: port, code: err.code ?? null, retryInMs: Math.round(delay) },
      `local API cannot listen on 127.0.0.1:${port} (${err.code ?? err.message}); ${fix}. Retrying in ${Math.ceil(delay / 1000)} s`,
    );
    bindTimer = setTimeout(() => void bind(srv, backoff), delay);
  }

  return {
    name: 'local-api',
    url: () => url,
    // The status's `since`: main calls these on every connect and disconnect.
    async onConnected() {
      since = new Date().toISOString();
    },
    onDisconnected(reason) {
      since = new Date().toISOString();
      lastDisconnectReason = reason;
    },
    async start() {
      stopped = false;
      const srv = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
        handle(req, res).catch((err: unknown) => {
          log.error({ event: 'local-api.request-failed', err: (err as Error).message }, 'a local API request failed unexpectedly; answered 500');
          if (!res.headersSent) {
            res.writeHead(500, { 'Content-Type': 'application/json', Connection: 'close' });
            res.end(JSON.stringify({ error: 'internal error; see the agent log' }));
          } else res.destroy();
        });
      });
      srv.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      // Malformed request lines and headers: Node answers 400 itself when it still can.
      srv.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
        if (socket.writable && !socket.destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        else socket.destroy();
        log.debug({ event: 'local-api.bad-request', code: err.code ?? null }, 'refused a malformed request');
      });
      await bind(srv, new Backoff(opts.bindRetry ?? { minMs: 1000, maxMs: 60_000 }));
    },
    async stop() {
      stopped = true;
      if (bindTimer) clearTimeout(bindTimer);
      const srv = server;
      server = undefined;
      url = undefined;
      if (!srv) return;
      await new Promise<void>((resolve) => {
        srv.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

/** The body as text, or undefined once it passes maxBytes (the rest is discarded). */
async function readBody(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  return (await readBoundedBody(req, maxBytes))?.toString('utf8');
}
