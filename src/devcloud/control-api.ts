import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../lib/log.js';
import { readBoundedBody } from '../lib/read-body.js';
import { isLoopbackHost, pathSegments, requestUrl } from '../lib/request-target.js';
import { crossSiteRefusal } from '../lib/cross-site.js';
import type { CloudHandler } from '../cloud/handler.js';
import type { CameraFaults, CameraSimulator } from './camera/simulator.js';
import type { S3Faults, S3StandIn } from './s3/server.js';
import { parseEventStreamMessage } from '../protocol/vapix/events.js';
import { EapError, parseEapManifest } from '../protocol/eap.js';
import type { JobStore } from './jobs/store.js';
import { routeJobs } from './jobs/control-routes.js';

/**
 * devcloud's own control endpoint on 127.0.0.1, for tests and scripts that run devcloud in another
 * process: switch camera and S3 faults, run the cloud handler for a thing. Not part of any AWS API.
 * Answers only requests whose Host is a loopback name (403 otherwise: DNS rebinding), that carry no
 * foreign `Origin` and no cross-site `Sec-Fetch-Site` (403: a web page, CSRF), and, for every method
 * but GET, `Content-Type: application/json` even with an empty body (415; lib/cross-site.ts); a
 * malformed request gets 400.
 *   GET  /health
 *   PUT  /cameras/{thing}/faults   body: CameraFaults ({} clears)
 *   POST /cameras/{thing}/events   body: {"topic": "tns1:VideoSource/MotionAlarm", "data": {"State": "1"}, "source"?: {...}}
 *                                  fires one event on the camera's VAPIX event stream; replies {sessions}
 *   GET  /cameras/{thing}/apps     the camera's installed apps: {apps: [{name, version, status, runs}]};
 *                                  runs grows at each control.cgi start/restart (test-package's systemd watches it)
 *   POST /cameras/{thing}/apps     body: {"manifest": <manifest.json>}: an app installed on the host (test-package
 *                                  unpacks the .eap as AXIS OS would); the camera records it as running and
 *                                  creates its paramConfig parameters, as at an upload.cgi installation
 *   PUT  /s3/faults                body: S3Faults ({} clears)
 *   POST /things/{thing}/snapshot  runs the cloud handler once; replies with its result
 *   POST /jobs, GET /jobs/{jobId}, POST /jobs/{jobId}/cancel   the Jobs control plane (jobs/control-routes.ts)
 */
export interface ControlApi {
  readonly url: string;
  stop(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const body = await readBoundedBody(req, MAX_BODY);
  if (body === undefined) throw new Error('body over 64 KB');
  const text = body.toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as unknown);
}

export async function startControlApi(opts: {
  cameras: ReadonlyMap<string, CameraSimulator>;
  s3: S3StandIn;
  handler: CloudHandler;
  jobs: JobStore;
  log: Logger;
}): Promise<ControlApi> {
  const { cameras, s3, handler, jobs, log } = opts;
  const reply = (res: http.ServerResponse, status: number, body?: unknown): void => {
    res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    // DNS rebinding: a web page whose name now resolves to 127.0.0.1 still sends its own name as Host.
    if (!isLoopbackHost(req.headers.host)) {
      return reply(res, 403, {
        message: `the devcloud control API answers only requests addressed to 127.0.0.1, localhost or [::1] (Host was ${JSON.stringify(req.headers.host ?? '')}); use ${url}`,
      });
    }
    const refusal = crossSiteRefusal(req.method ?? '', req.headers, 'devcloud control API');
    if (refusal) return reply(res, refusal.status, { message: refusal.message });
    const { pathname } = requestUrl(req.url);
    const parts = pathSegments(pathname);
    if (parts[0] === 'jobs') {
      const answer = await routeJobs(jobs, req.method ?? '', parts, () => readJson(req));
      if (answer) return reply(res, answer.status, answer.body);
      return reply(res, 404, { message: `no route ${req.method ?? ''} ${pathname}` });
    }
    const name = `${req.method ?? ''} ${parts.map((p, i) => (i === 1 && parts.length > 2 ? ':id' : p)).join('/')}`;
    switch (name) {
      case 'GET health':
        return reply(res, 200, { ok: true });
      case 'PUT cameras/:id/faults': {
        const camera = cameras.get(parts[1]!);
        if (!camera) return reply(res, 404, { message: `no simulated camera named ${parts[1]}` });
        camera.setFaults((await readJson(req)) as CameraFaults);
        return reply(res, 204);
      }
      case 'POST cameras/:id/events': {
        const camera = cameras.get(parts[1]!);
        if (!camera) return reply(res, 404, { message: `no simulated camera named ${parts[1]}` });
        const body = (await readJson(req)) as { topic?: unknown; data?: unknown; source?: unknown };
        // The same checks the agent applies to what a camera sends: an event the agent would refuse is refused here.
        const checked = parseEventStreamMessage(
          JSON.stringify({ method: 'events:notify', params: { notification: { topic: body.topic, timestamp: Date.now(), message: { source: body.source ?? {}, data: body.data ?? {} } } } }),
        );
        if (checked.kind !== 'event') {
          return reply(res, 400, { message: `not an event (${checked.kind === 'invalid' ? checked.why : checked.kind}): send {"topic": "tns1:VideoSource/MotionAlarm", "data": {"State": "1"}}` });
        }
        return reply(res, 200, { sessions: camera.events.fire(checked.event) });
      }
      case 'GET cameras/:id/apps': {
        const camera = cameras.get(parts[1]!);
        if (!camera) return reply(res, 404, { message: `no simulated camera named ${parts[1]}` });
        return reply(res, 200, { apps: camera.apps.list().map((a) => ({ name: a.manifest.appName, version: a.manifest.version, status: a.status, runs: a.runs })) });
      }
      case 'POST cameras/:id/apps': {
        const camera = cameras.get(parts[1]!);
        if (!camera) return reply(res, 404, { message: `no simulated camera named ${parts[1]}` });
        const body = (await readJson(req)) as { manifest?: unknown };
        try {
          // No architecture check: the host runs the package for any architecture under qemu.
          camera.apps.install(parseEapManifest(body.manifest, 'the manifest'), 'Running');
        } catch (err) {
          if (err instanceof EapError) return reply(res, 400, { message: `${err.message}; send {"manifest": <the package's manifest.json>}` });
          throw err;
        }
        return reply(res, 204);
      }
      case 'PUT s3/faults':
        s3.setFaults((await readJson(req)) as S3Faults);
        return reply(res, 204);
      case 'POST things/:id/snapshot':
        return reply(res, 200, await handler.handle({ kind: 'snapshot', thing: parts[1]!, reason: 'control' }));
      default:
        return reply(res, 404, { message: `no route ${req.method ?? ''} ${pathname}` });
    }
  };

  let url = '';
  const server = http.createServer((req, res) => {
    // Everything, the URL parsing included, runs inside the promise: nothing thrown escapes the listener.
    route(req, res).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      log.warn({ method: req.method, err: message }, 'control request failed');
      if (!res.headersSent) reply(res, 400, { message });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  url = `http://127.0.0.1:${port}`;
  return {
    url,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
