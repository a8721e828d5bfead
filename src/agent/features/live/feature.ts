/**
 * Live view (issue 22, docs/protocol-live.md), glue only. Always loaded: a subscription to
 * `cloudcam/{thing}/live/request`, the request's checks (shape, age by the cloud's clock) and the
 * shadow report. Everything else (werift, RTSP, signalling, credentials) is in session.ts and loaded
 * with import() on the first request, so a camera nobody watches keeps its idle memory
 * (docs/decisions.md, "werift, loaded lazily").
 */
import { readFile } from 'node:fs/promises';
import type { Feature, FeatureContext } from '../../feature.js';
import { CloudClock } from '../../../protocol/cloud-clock.js';
import { LIVE_REQUEST_MAX_AGE_MS, liveRequestTopic, parseLiveRequest, type LiveReport } from '../../../protocol/live-request.js';
import { createLiveReporter } from './reporter.js';
import { chooseRtspAccount, rtspRefusalFix } from './rtsp-account.js';
import { liveEndpoints } from './settings.js';
import type { LiveSession } from './session.js';

export interface LiveFeature extends Feature {
  /** What `reported.live` says now (for /status). */
  report(): LiveReport;
}

export function createLiveFeature(ctx: FeatureContext): LiveFeature {
  const { connection, thing, config } = ctx;
  const log = ctx.log.child({ feature: 'live' });
  const topic = liveRequestTopic(thing);
  const clock = new CloudClock(() => ctx.now().getTime());
  const reporter = createLiveReporter({ link: connection, thing, shadowName: config.shadowName, maxViewers: config.live.maxViewers, clock, log, now: ctx.now });
  let session: LiveSession | undefined;
  let loading: Promise<LiveSession | undefined> | undefined;
  let stopped = false;

  function onMessage(t: string, payload: Buffer): void {
    if (t !== topic || stopped) return;
    const parsed = parseLiveRequest(payload);
    if (!parsed.ok) {
      log.warn({ event: 'live.request-invalid', why: parsed.error }, `live request ignored: ${parsed.error}`);
      return;
    }
    const { requestId, at } = parsed.value;
    const ageMs = clock.now() - Date.parse(at);
    if (ageMs > LIVE_REQUEST_MAX_AGE_MS) {
      log.info({ event: 'live.request-stale', requestId, ageMs }, `live request ${requestId} ignored: asked ${Math.round(ageMs / 1000)} s ago (by the cloud's clock)`);
      return;
    }
    // camera.url's host, not the service account's virtual host: that one is for VAPIX with service
    // credentials (which RTSP refuses anyway); the camera's RTSP server takes its accounts on its own address.
    const endpoints = liveEndpoints(config, config.camera.url);
    if (!endpoints.ok) {
      log.error({ event: 'live.not-configured', requestId, why: endpoints.error }, endpoints.error);
      reporter.set({ state: 'failed', viewers: 0, error: endpoints.error });
      return;
    }
    void sessionFor(endpoints.value).then((s) => s?.request(requestId));
  }

  /** The session, created on the first request (this is where werift is loaded). */
  function sessionFor(endpoints: Exclude<ReturnType<typeof liveEndpoints>, { ok: false }>['value']): Promise<LiveSession | undefined> {
    if (session) return Promise.resolve(session);
    loading ??= (async () => {
      try {
        const [{ createLiveSession, RoleCredentialsSource }, tls] = await Promise.all([import('./lazy.js'), readTls()]);
        if (stopped) return undefined;
        const rtsp = chooseRtspAccount(config.live, ctx.cameraAccess);
        log.info({ event: 'live.rtsp-account', source: rtsp.source }, `live view opens the camera's RTSP stream with the ${rtsp.source === 'live-account' ? 'live view account (live.rtspUsername)' : rtsp.source === 'service-account' ? 'ACAP service account' : 'configured camera account'}`);
        const credentials = new RoleCredentialsSource({ endpoint: endpoints.credentialsEndpoint, roleAlias: endpoints.roleAlias, thingName: thing, tls: { cert: tls.cert, key: tls.key, ca: tls.providerCa } });
        session = createLiveSession({
          link: { thing, region: endpoints.region, kvsEndpoint: endpoints.kvsEndpoint, ...(tls.kvsCa ? { kvsCa: tls.kvsCa } : {}) },
          credentials,
          rtsp: { url: endpoints.rtspUrl, credentials: rtsp.credentials, basicOnLoopback: rtsp.basicOnLoopback, refusalFix: (err) => rtspRefusalFix(err, rtsp.source) },
          maxViewers: config.live.maxViewers,
          idleMs: config.live.idleSeconds * 1000,
          additionalHostAddresses: endpoints.additionalHostAddresses,
          log,
          onReport: (r) => reporter.set(r),
        });
        return session;
      } catch (err) {
        const why = `live view could not load: ${(err as Error).message}`;
        log.error({ event: 'live.start-failed', why }, why);
        reporter.set({ state: 'failed', viewers: 0, error: why });
        return undefined;
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  }

  /** The device's current certificate (an installed identity replaces the configured one) and the CAs. */
  async function readTls(): Promise<{ cert: Buffer; key: Buffer; providerCa: Buffer; kvsCa?: Buffer }> {
    const files = connection.tlsFiles;
    const caPath = config.live.caPath;
    const [cert, key, providerCa] = await Promise.all([readFile(files.certPath), readFile(files.keyPath), readFile(caPath || files.caPath)]);
    return { cert, key, providerCa, ...(caPath ? { kvsCa: providerCa } : {}) };
  }

  return {
    name: 'live',
    report: () => reporter.current,
    async start() {
      connection.on('message', onMessage);
    },
    async onConnected() {
      try {
        await connection.subscribe([topic], 1);
        await reporter.onConnected();
      } catch (err) {
        log.warn({ event: 'live.subscribe-failed', err: (err as Error).message }, `could not subscribe to live requests: ${(err as Error).message}`);
      }
    },
    async stop() {
      stopped = true;
      connection.off('message', onMessage);
      await loading;
      await session?.stop();
      await reporter.flush(2000);
      reporter.close();
    },
  };
}
