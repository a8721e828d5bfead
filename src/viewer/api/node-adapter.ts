import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBoundedBody } from '../../lib/read-body.js';
import { requestUrl } from '../../lib/request-target.js';
import type { ViewerRequest, ViewerResponse } from './handler.js';

/** devcloud's front for the viewer API: node:http request -> ViewerRequest -> node:http response. */

const MAX_BODY = 64 * 1024;

export async function toViewerRequest(req: IncomingMessage): Promise<ViewerRequest> {
  const body = await readBoundedBody(req, MAX_BODY);
  const url = requestUrl(req.url);
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(',') : value;
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers,
    // Past the limit the handler answers 413 on this over-long marker.
    body: body === undefined ? ' '.repeat(MAX_BODY + 1) : body.toString('utf8'),
    origin: `http://${req.headers.host ?? 'localhost'}`,
  };
}

export function sendViewerResponse(res: ServerResponse, out: ViewerResponse): void {
  res.writeHead(out.status, { ...out.headers, 'content-length': String(Buffer.byteLength(out.body)) });
  res.end(out.body);
}
