import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { BadRequestError, requestUrl } from '../lib/request-target.js';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import type { Logger } from '../lib/log.js';
import { readFileIfExists, writeFileAtomic } from '../lib/atomic-file.js';
import { createS3Client, type CloudHandler } from '../cloud/handler.js';
import { issuerVerifier } from '../viewer/api/auth.js';
import { createBucket } from '../viewer/api/bucket.js';
import { dataPlaneShadows, staticDirectory } from '../viewer/api/fleet.js';
import { readEnrolment } from './identity/enrolments.js';
import { createViewerApi } from '../viewer/api/handler.js';
import { sendViewerResponse, toViewerRequest } from '../viewer/api/node-adapter.js';
import { bucketRevocations } from '../viewer/api/revocations.js';
import { handleThumbnailEvent, objectCreatedEvent, type ThumbnailOutcome } from '../viewer/thumbnail.js';
import { viewerContentSecurityPolicy } from '../viewer/csp.js';
import { bundleWebApp, indexHtml, WEB_CSS } from '../viewer/web-bundle.js';
import { kvsViewerSide } from '../viewer/api/kvs.js';
import { liveBrowserHelp, type LiveBrowserHelp } from './live-browser-help.js';
import type { LivePublisher } from '../viewer/api/live.js';
import { Agent as HttpsAgent } from 'node:https';
import { startIssuer, type Issuer } from './oauth/issuer.js';
import type { S3StandIn, S3StoredObject } from './s3/server.js';

/**
 * The viewer in devcloud: the stand-in OAuth issuer (Cognito's part), the viewer API (the same
 * handler as the Lambda) and the web app on one origin, and the thumbnail handler hooked to the S3
 * stand-in's stored objects through the same S3 event notification document AWS sends.
 */

export const VIEWER_CLIENT_ID = 'cloudcam-viewer';
export const VIEWER_USERNAME = 'viewer';

export interface ViewerSecrets {
  password: string;
  /** Share-link HMAC key, base64. */
  shareKey: string;
}

export interface DevcloudViewer extends EventEmitter<{ thumbnail: [ThumbnailOutcome]; 'thumbnail-error': [string, Error] }> {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly issuer: Issuer;
  /** How to watch live in one's own browser (devcloud's CA is no browser's): `make run` prints it, the page shows it when signalling fails. */
  readonly liveBrowserHelp: LiveBrowserHelp | undefined;
  stop(): Promise<void>;
}

/** The dev user's password and the share key: made on first start, kept in DIR/viewer.json (0600). */
async function ensureViewerSecrets(stateDir: string): Promise<ViewerSecrets> {
  const file = path.join(stateDir, 'viewer.json');
  const text = await readFileIfExists(file);
  if (text !== undefined) {
    try {
      const s = JSON.parse(text) as Partial<ViewerSecrets>;
      if (typeof s.password === 'string' && typeof s.shareKey === 'string' && Buffer.from(s.shareKey, 'base64').length >= 32) return s as ViewerSecrets;
    } catch {
      // fall through to the error below
    }
    throw new Error(`${file} is not a viewer secrets file; delete it to have devcloud make a new password and share key (old share links then stop working)`);
  }
  const secrets: ViewerSecrets = { password: randomBytes(12).toString('base64url'), shareKey: randomBytes(32).toString('base64') };
  await writeFileAtomic(file, JSON.stringify(secrets, null, 2) + '\n', 0o600);
  return secrets;
}

export async function startDevcloudViewer(opts: {
  stateDir: string;
  s3: S3StandIn;
  bucket: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  dataPlaneUrl: string;
  shadowName: string;
  handler: CloudHandler;
  things: () => readonly string[];
  log: Logger;
  accessTokenSeconds?: number;
  /** Run the thumbnail handler on every stored object (as the S3 notification does in AWS). */
  thumbnails: boolean;
  /** Live view: devcloud's KVS stand-in (signed with `credentials`, the viewer API's principal) and the cloud MQTT client's publish. */
  live: {
    kvsControlUrl: string;
    signallingUrl: string;
    ca: Buffer | string;
    publish: LivePublisher;
    /** The signalling endpoint's certificate and devcloud's CA file: what a person's browser must accept (live-browser-help.ts). */
    browserTrust?: { signallingCertificate: string | Buffer; caPath: string };
  };
}): Promise<DevcloudViewer> {
  const { log } = opts;
  const secrets = await ensureViewerSecrets(opts.stateDir);
  const shareKey = Buffer.from(secrets.shareKey, 'base64');
  const [web, css] = await Promise.all([bundleWebApp(), readFile(WEB_CSS, 'utf8')]);
  let url = '';
  const issuer = await startIssuer({
    clientId: VIEWER_CLIENT_ID,
    redirectUris: () => [`${url}/callback`],
    username: VIEWER_USERNAME,
    password: secrets.password,
    log: log.child({ part: 'issuer' }),
    ...(opts.accessTokenSeconds !== undefined ? { accessTokenSeconds: opts.accessTokenSeconds } : {}),
  });

  const s3Client = createS3Client({ region: opts.region, credentials: opts.credentials, s3Endpoint: opts.s3.url });
  const iotData = new IoTDataPlaneClient({ region: opts.region, credentials: opts.credentials, endpoint: opts.dataPlaneUrl });
  const bucket = createBucket(s3Client, opts.bucket);
  const kvsAgent = new HttpsAgent({ ca: opts.live.ca, keepAlive: true });
  const kvs = kvsViewerSide({ region: opts.region, endpoint: opts.live.kvsControlUrl, credentials: opts.credentials, requestHandler: { httpsAgent: kvsAgent } });
  const api = createViewerApi({
    verifier: issuerVerifier({ issuer: issuer.url, clientId: VIEWER_CLIENT_ID, jwksUri: issuer.jwksUri }),
    directory: staticDirectory(opts.things, (thing) => readEnrolment(opts.stateDir, thing)),
    shadows: dataPlaneShadows(iotData, opts.shadowName),
    bucket,
    requestSnapshot: (thing) => opts.handler.handle({ kind: 'snapshot', thing, reason: 'viewer' }),
    shareSecret: async () => shareKey,
    revocations: bucketRevocations(bucket),
    live: { signalling: kvs, publish: opts.live.publish },
    onError: (route, err) => log.error({ route, err: err.message }, 'viewer API failed'),
    onIgnored: (thing, why) => log.warn({ thing, why }, 'viewer API ignores what a camera reported'),
  });

  const emitter = new EventEmitter() as DevcloudViewer;
  const onObject = (o: S3StoredObject): void => {
    const event = objectCreatedEvent({ bucket: o.bucket, key: o.key, size: o.size, region: opts.region });
    handleThumbnailEvent(event, (name) => (name === opts.bucket ? bucket : undefined))
      .then((outcomes) => outcomes.forEach((r) => emitter.emit('thumbnail', r)))
      .catch((err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        log.warn({ key: o.key, err: error.message }, 'thumbnail failed');
        emitter.emit('thumbnail-error', o.key, error);
      });
  };
  if (opts.thumbnails) opts.s3.events.on('object', onObject);

  // The app talks to this origin (API), the issuer (sign-in) and the KVS signalling WSS; images come from S3.
  const csp = viewerContentSecurityPolicy({ images: opts.s3.url, signIn: issuer.url, signalling: opts.live.signallingUrl.replace(/^https:/, 'wss:') });
  const staticFile = (res: ServerResponse, type: string, body: string): void => {
    res.writeHead(200, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), 'content-security-policy': csp, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    res.end(body);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { pathname } = requestUrl(req.url);
    if (pathname.startsWith('/api/') || pathname.startsWith('/s/')) {
      sendViewerResponse(res, await api(await toViewerRequest(req)));
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (pathname === '/app.js') return staticFile(res, 'text/javascript; charset=utf-8', web.js);
    if (pathname === '/app.css') return staticFile(res, 'text/css; charset=utf-8', css);
    if (pathname === '/config.json') {
      const config = { authorizeUrl: `${issuer.url}/oauth2/authorize`, tokenUrl: `${issuer.url}/oauth2/token`, clientId: VIEWER_CLIENT_ID, apiUrl: '' };
      return staticFile(res, 'application/json', JSON.stringify(help ? { ...config, liveSignallingHelp: { text: help.text, command: help.command } } : config));
    }
    return staticFile(res, 'text/html; charset=utf-8', indexHtml());
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof BadRequestError && !res.headersSent) {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(`${err.message}\n`);
        return;
      }
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'viewer request failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const trust = opts.live.browserTrust;
  const help = trust ? liveBrowserHelp({ viewerUrl: url, signallingUrl: opts.live.signallingUrl, signallingCertificate: trust.signallingCertificate, caPath: trust.caPath, stateDir: opts.stateDir }) : undefined;
  log.info({ url, appGzipBytes: web.gzipBytes }, 'viewer listening');

  return Object.assign(emitter, {
    url,
    username: VIEWER_USERNAME,
    password: secrets.password,
    issuer,
    liveBrowserHelp: help,
    stop: async () => {
      opts.s3.events.off('object', onObject);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await issuer.stop();
      s3Client.destroy();
      iotData.destroy();
      kvs.destroy();
      kvsAgent.destroy();
    },
  });
}
