/** What every VAPIX route of the simulator answers with: plain text, JSON, bounded request bodies. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBoundedBody } from '../../../lib/read-body.js';
import type { DigestVerifier } from '../../../protocol/digest.js';

const MAX_POST_BYTES = 64 * 1024;

export function text(res: ServerResponse, status: number, body: string, extra: Record<string, string | string[]> = {}): void {
  const buf = Buffer.from(body);
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': buf.length, ...extra });
  res.end(buf);
}

export function json(res: ServerResponse, body: unknown): void {
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': buf.length });
  res.end(buf);
}

/** The request body, or undefined when it is larger than `limit` (the caller answers 413 or its API's error). */
export const readBody = (req: IncomingMessage, limit = MAX_POST_BYTES): Promise<Buffer | undefined> => readBoundedBody(req, limit);

/** 401 with the listener's challenges (Digest per algorithm, or Basic). */
export function unauthorized(res: ServerResponse, stale: boolean, v: DigestVerifier): void {
  text(res, 401, '401 Unauthorized\n', { 'WWW-Authenticate': v.challenges(stale) });
}
