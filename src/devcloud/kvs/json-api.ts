/**
 * One signed REST-JSON request, as both KVS endpoints (control plane and signalling's HTTPS) serve
 * them: POST only, a bounded JSON body, the SigV4 Authorization header checked, then the operation
 * named by the path. Every failure is answered as AWS does (errors.ts); nothing throws out of here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../lib/log.js';
import { readBoundedBody } from '../../lib/read-body.js';
import { KvsError, kvsErrors, sendKvsError } from './errors.js';
import type { CredentialsRegistry, HeldCredentials } from './iam.js';
import { verifyHeaderSignature } from './sigv4.js';

/** Requests of these APIs are a few hundred bytes; AWS's own limit is far above what they need. */
const MAX_BODY_BYTES = 64 * 1024;

export type JsonObject = Record<string, unknown>;
export type Operation = (input: JsonObject, caller: HeldCredentials) => JsonObject;

export interface JsonApiOptions {
  region: string;
  registry: CredentialsRegistry;
  now: () => number;
  log: Logger;
}

export async function serveSignedJson(req: IncomingMessage, res: ServerResponse, operations: ReadonlyMap<string, Operation>, opts: JsonApiOptions): Promise<void> {
  try {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const rawPath = q === -1 ? target : target.slice(0, q);
    const operation = operations.get(rawPath);
    if (req.method !== 'POST' || operation === undefined) {
      req.resume();
      throw new KvsError(404, 'UnknownOperationException', `No operation at ${req.method ?? ''} ${rawPath}; this endpoint serves POST ${[...operations.keys()].join(', ')}.`);
    }
    const body = await readBoundedBody(req, MAX_BODY_BYTES);
    if (body === undefined) throw kvsErrors.invalidArgument(`The request body is larger than ${MAX_BODY_BYTES} bytes.`);
    const caller = verifyHeaderSignature(
      { method: 'POST', rawPath, rawQuery: q === -1 ? '' : target.slice(q + 1), headers: req.headers, body },
      { region: opts.region, now: opts.now(), registry: opts.registry },
    );
    let input: unknown;
    try {
      input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      throw new KvsError(400, 'SerializationException', 'The request body is not valid JSON.');
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new KvsError(400, 'SerializationException', 'The request body must be a JSON object.');
    const output = JSON.stringify(operation(input as JsonObject, caller));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(output) });
    res.end(output);
  } catch (err) {
    if (err instanceof KvsError) {
      opts.log.debug({ status: err.status, type: err.type, err: err.message }, 'KVS request refused');
      sendKvsError(res, err);
      return;
    }
    opts.log.error({ err: (err as Error).message }, 'KVS request failed');
    sendKvsError(res, new KvsError(500, 'InternalFailureException', 'devcloud failed on this request; see its log.'));
  }
}

/** A string member of the input, or an InvalidArgumentException naming it. */
export function stringMember(input: JsonObject, name: string, opts: { required: true }): string;
export function stringMember(input: JsonObject, name: string, opts?: { required?: false }): string | undefined;
export function stringMember(input: JsonObject, name: string, opts: { required?: boolean } = {}): string | undefined {
  const value = input[name];
  if (value === undefined || value === null) {
    if (opts.required) throw kvsErrors.invalidArgument(`${name} is required.`);
    return undefined;
  }
  if (typeof value !== 'string' || value.length === 0) throw kvsErrors.invalidArgument(`${name} must be a non-empty string.`);
  return value;
}
