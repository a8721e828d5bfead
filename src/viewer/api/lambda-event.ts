import type { ViewerRequest, ViewerResponse } from './handler.js';

/**
 * API Gateway HTTP API (payload format 2.0) <-> the viewer handler. Only the fields the handler reads
 * are typed; API Gateway lower-cases header names in this format.
 */
export interface HttpApiEventV2 {
  rawPath: string;
  rawQueryString?: string;
  headers?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded?: boolean;
  requestContext: { http: { method: string }; domainName: string };
}

export interface HttpApiResultV2 {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: false;
}

export function fromHttpApiEvent(event: HttpApiEventV2): ViewerRequest {
  const raw = event.body ?? '';
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    query: new URLSearchParams(event.rawQueryString ?? ''),
    headers: event.headers ?? {},
    body: event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw,
    origin: `https://${event.requestContext.domainName}`,
  };
}

export function toHttpApiResult(out: ViewerResponse): HttpApiResultV2 {
  return { statusCode: out.status, headers: out.headers, body: out.body, isBase64Encoded: false };
}
