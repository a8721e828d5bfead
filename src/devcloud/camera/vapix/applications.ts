/**
 * The ACAP side of VAPIX: /axis-cgi/applications/{upload,control,list}.cgi (Application API) over the
 * app registry (apps.ts), and the reverse proxy from /local/{app}/{apiPath}/ to a running app's own
 * server, as the camera's Apache forwards it.
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { DigestVerifier } from '../../../protocol/digest.js';
import { MAX_PACKAGE_BYTES, packfilPart } from '../apps.js';
import type { CameraState } from '../state.js';
import type { CameraRole } from '../types.js';
import { readBody, text, unauthorized } from './reply.js';

const ROLE_RANK: Record<CameraRole, number> = { admin: 3, operator: 2, viewer: 1 };

export async function applications(cam: CameraState, req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
  const { apps } = cam;
  switch (url.pathname) {
    case '/axis-cgi/applications/upload.cgi': {
      if (req.method !== 'POST') return text(res, 405, 'Method Not Allowed\n');
      const body = await readBody(req, MAX_PACKAGE_BYTES + 64 * 1024);
      if (!body) return text(res, 200, 'Error: 3\n');
      if (cam.faults.uploadError) return text(res, 200, `Error: ${cam.faults.uploadError}\n`);
      return text(res, 200, `${apps.upload(packfilPart(body, req.headers['content-type']))}\n`);
    }
    case '/axis-cgi/applications/control.cgi':
      return text(res, 200, `${apps.control(url.searchParams.get('action'), url.searchParams.get('package'))}\n`);
    case '/axis-cgi/applications/list.cgi': {
      const buf = Buffer.from(apps.listXml());
      res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': buf.length });
      res.end(buf);
      return;
    }
    default:
      return text(res, 404, 'Not Found\n');
  }
}

/**
 * /local/{app}/{apiPath}/rest -> {target}/rest, for a running app that declares apiPath, to users
 * whose role reaches the entry's access. A user below it gets 401 with a new challenge, as Apache
 * answers an authenticated user its authorization refuses (without AuthzSendForbiddenOnFailure).
 */
export async function reverseProxy(cam: CameraState, req: IncomingMessage, url: URL, res: ServerResponse, username: string, v: DigestVerifier): Promise<void> {
  const { apps, roles, appTargets, stats } = cam;
  const [, , appName = '', apiPath = '', ...rest] = url.pathname.split('/');
  const app = apps.get(appName);
  const entry = app?.manifest.reverseProxy.find((p) => p.apiPath === apiPath);
  if (!app || !entry || app.status !== 'Running') return text(res, 404, 'Not Found\n');
  const needed = entry.access === 'anonymous' ? 0 : (ROLE_RANK[entry.access as CameraRole] ?? ROLE_RANK.admin);
  if (ROLE_RANK[roles.get(username) ?? 'viewer'] < needed) return unauthorized(res, false, v);
  const target = new URL(appTargets.get(appName) ?? entry.target);
  const body = await readBody(req, 1024 * 1024);
  if (body === undefined) return text(res, 413, 'Request Entity Too Large\n');
  const forwardPath = `${target.pathname.replace(/\/$/, '')}/${rest.join('/')}${url.search}`;
  stats.proxied++;
  await new Promise<void>((resolve) => {
    const out = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: forwardPath, headers: { 'content-type': req.headers['content-type'] ?? 'application/octet-stream', 'content-length': body.length } },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, { 'Content-Type': upstream.headers['content-type'] ?? 'text/plain' });
        upstream.pipe(res);
        upstream.on('end', resolve);
        upstream.on('error', () => resolve());
      },
    );
    out.on('error', () => {
      // What Apache answers when the app's server is down.
      text(res, 503, 'Service Unavailable\n');
      resolve();
    });
    out.end(body);
  });
}
