import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestUrl } from '../../lib/request-target.js';
import type { ViewerRequest, ViewerResponse } from './handler.js';

/** devcloud's front for the viewer API: node:http request -> ViewerRequest -> node:http response. */

const MAX_BODY = 64 * 1024;

export async function toViewerRequest(req: IncomingMessage): Promise<ViewerRequest> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Past the limit only count; the handler answers 413 on the truncated marker below.
    if (size <= MAX_BODY) chunks.push(chunk);
  }
  const url = requestUrl(req.url);
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(',') : value;
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers,
    body: size > MAX_BODY ? ' '.repeat(MAX_BODY + 1) : Buffer.concat(chunks).toString('utf8'),
    origin: `http://${req.headers.host ?? 'localhost'}`,
  };
}

export function sendViewerResponse(res: ServerResponse, out: ViewerResponse): void {
  res.writeHead(out.status, { ...out.headers, 'content-length': String(Buffer.byteLength(out.body)) });
  res.end(out.body);
}
