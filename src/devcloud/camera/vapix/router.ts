/**
 * The VAPIX HTTP request handler of one listener: the camera's Date header, the delay/401/503 faults,
 * authentication with the listener's verifier, then the route per CGI path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadRequestError, requestUrl } from '../../../lib/request-target.js';
import type { DigestVerifier } from '../../../protocol/digest.js';
import { apiDiscoveryReply } from '../api-discovery.js';
import type { CameraState } from '../state.js';
import { applications, reverseProxy } from './applications.js';
import { basicDeviceInfo } from './device-info.js';
import { snapshot } from './image.js';
import { paramCgi } from './param-cgi.js';
import { pwdgrpCgi } from './pwdgrp.js';
import { json, readBody, text, unauthorized } from './reply.js';
import { jsonApi, ntpMethods, timeMethods } from './time.js';

export interface VapixRouterOptions {
  /** Whether API discovery lists `event-streaming-over-websocket` now (the event stream's switch). */
  eventStreaming: () => boolean;
}

/** Resolves false when the client went away during the wait. */
function wait(cam: CameraState, ms: number, res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(t);
      cam.timers.delete(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      cam.timers.delete(t);
      res.off('close', onClose);
      resolve(true);
    }, ms);
    cam.timers.add(t);
    res.once('close', onClose);
  });
}

async function handle(cam: CameraState, router: VapixRouterOptions, req: IncomingMessage, res: ServerResponse, v: DigestVerifier): Promise<void> {
  cam.stats.requests++;
  const url = requestUrl(req.url);
  cam.log?.debug({ method: req.method, path: url.pathname }, 'vapix request');
  // The camera's own clock, which may be off: every reply carries it, as Apache's Date header.
  res.setHeader('Date', cam.now().toUTCString());
  const current = cam.faults;
  if (current.delayMs && !(await wait(cam, current.delayMs, res))) return;
  const isLocal = url.pathname.startsWith('/local/');
  if (!url.pathname.startsWith('/axis-cgi/') && !isLocal) return text(res, 404, 'Not Found\n');
  if (current.status === 401) return unauthorized(res, false, v);
  const auth = v.verify(req.headers.authorization, req.method ?? 'GET', req.url ?? '/');
  if (!auth.ok) return unauthorized(res, auth.stale, v);
  if (current.status === 503) return text(res, 503, 'Service Unavailable\n');
  const ntpApi = cam.opts.ntpApi !== false;
  switch (url.pathname) {
    case '/axis-cgi/jpg/image.cgi':
      return snapshot(cam, url, res);
    case '/axis-cgi/basicdeviceinfo.cgi':
      return basicDeviceInfo(cam, req, res);
    case '/axis-cgi/param.cgi':
      return paramCgi(cam, req, url, res);
    case '/axis-cgi/pwdgrp.cgi':
      return pwdgrpCgi(cam, req, url, res, auth.username, v);
    case '/axis-cgi/ntp.cgi':
      if (!ntpApi) return text(res, 404, 'Not Found\n');
      return jsonApi(req, res, ntpMethods(cam));
    case '/axis-cgi/time.cgi':
      if (!ntpApi) return text(res, 404, 'Not Found\n');
      return jsonApi(req, res, timeMethods(cam));
    case '/axis-cgi/apidiscovery.cgi':
      return json(res, apiDiscoveryReply(await readBody(req), { eventStreamingOverWebsocket: router.eventStreaming(), ntpApi }));
    default:
      if (isLocal) return reverseProxy(cam, req, url, res, auth.username, v);
      if (url.pathname.startsWith('/axis-cgi/applications/')) return applications(cam, req, url, res);
      return text(res, 404, 'Not Found\n');
  }
}

/** A node:http request listener answering with `v`'s authentication; a failed request gets 400 or 500, never a crash. */
export function vapixRequestHandler(cam: CameraState, router: VapixRouterOptions, v: DigestVerifier): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(cam, router, req, res, v).catch((err: unknown) => {
      if (err instanceof BadRequestError) {
        cam.log?.debug({ err: err.message }, 'malformed vapix request');
        if (!res.headersSent) return text(res, 400, 'Bad Request\n');
      } else {
        cam.log?.error({ err }, 'camera simulator request failed');
      }
      if (!res.headersSent) text(res, 500, 'Internal Server Error\n');
      else res.destroy();
    });
  };
}
