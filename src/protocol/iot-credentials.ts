/**
 * The device side of the AWS IoT credentials provider (developer guide, "Authorizing direct calls to
 * AWS services using AWS IoT Core credential provider"): `GET /role-aliases/{alias}/credentials` over
 * mutual TLS with the device certificate and `x-amzn-iot-thingname`, answered with short-lived role
 * credentials. RoleCredentialsSource keeps them in memory only and fetches new ones before they
 * expire; no secret is ever written or logged here.
 */
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { httpRequest } from './http-request.js';

export interface RoleCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

export interface CredentialsEndpoint {
  /** https://host[:port] (`aws iot describe-endpoint --endpoint-type iot:CredentialProvider`). */
  endpoint: string;
  roleAlias: string;
  thingName: string;
  /** PEM: the device certificate and key, and the CA that signed the endpoint's certificate. */
  tls: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer };
}

export class CredentialsProviderError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'CredentialsProviderError';
  }
}

/** Answers are ~1 KB; anything far larger is not the credentials provider. */
const MAX_BODY_BYTES = 16 * 1024;
const ROLE_ALIAS = /^[\w=,@-]{1,128}$/;

async function readUpTo(body: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new CredentialsProviderError(`the credentials provider sent more than ${limit} bytes; is the endpoint right?`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function messageOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON: the text itself, cut short, says what came back
  }
  return text.slice(0, 200);
}

/** The credentials in a 200 answer, or an error that says what the provider refused and what to change. */
export function parseCredentialsAnswer(status: number, text: string, ask: Pick<CredentialsEndpoint, 'roleAlias' | 'thingName'>): RoleCredentials {
  if (status !== 200) {
    const message = messageOf(text);
    const hint =
      message === 'Invalid thing name passed'
        ? `: ${JSON.stringify(ask.thingName)} is not the thing attached to this device certificate; check thingName`
        : message === 'Access Denied'
          ? `: the certificate's IoT policy must allow iot:AssumeRoleWithCertificate on role alias ${ask.roleAlias}`
          : message === 'Role alias does not exist'
            ? `: role alias ${ask.roleAlias} is not deployed (infra/live.ts)`
            : '';
    throw new CredentialsProviderError(`the credentials provider answered ${status} ${JSON.stringify(message)}${hint}`, status);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CredentialsProviderError('the credentials provider answered 200 with a body that is not JSON');
  }
  const c = (parsed as { credentials?: Record<string, unknown> } | null)?.credentials;
  const field = (name: string): string => {
    const value = c?.[name];
    if (typeof value !== 'string' || value.length === 0) throw new CredentialsProviderError(`the credentials provider's answer lacks credentials.${name}`);
    return value;
  };
  const expiration = new Date(field('expiration'));
  if (Number.isNaN(expiration.getTime())) throw new CredentialsProviderError('credentials.expiration is not a date');
  return { accessKeyId: field('accessKeyId'), secretAccessKey: field('secretAccessKey'), sessionToken: field('sessionToken'), expiration };
}

export async function fetchRoleCredentials(ask: CredentialsEndpoint, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<RoleCredentials> {
  const base = new URL(ask.endpoint);
  if (base.protocol !== 'https:') throw new CredentialsProviderError(`the credentials endpoint must be https://, not ${ask.endpoint}`);
  if (!ROLE_ALIAS.test(ask.roleAlias)) throw new CredentialsProviderError(`role alias ${JSON.stringify(ask.roleAlias)} is not 1-128 characters from [A-Za-z0-9_=,@-]`);
  const url = new URL(`/role-aliases/${ask.roleAlias}/credentials`, base);
  const agent = new https.Agent({ cert: ask.tls.cert, key: ask.tls.key, ca: ask.tls.ca, keepAlive: false });
  const signal = AbortSignal.any([AbortSignal.timeout(opts.timeoutMs ?? 15_000), ...(opts.signal ? [opts.signal] : [])]);
  try {
    const res = await httpRequest(url, { method: 'GET', headers: { 'x-amzn-iot-thingname': ask.thingName, accept: 'application/json' }, signal, agent });
    return parseCredentialsAnswer(res.statusCode, await readUpTo(res.body, MAX_BODY_BYTES), ask);
  } finally {
    agent.destroy();
  }
}

/**
 * Role credentials for as long as they are wanted: fetched on first use, reused until `refreshBeforeMs`
 * before their expiration (at most half their life), then fetched again; concurrent callers share one
 * fetch. A failed fetch is not remembered: the next call tries again.
 */
export class RoleCredentialsSource {
  private current: RoleCredentials | undefined;
  private pending: Promise<RoleCredentials> | undefined;
  private issuedAt = 0;

  constructor(
    private readonly ask: CredentialsEndpoint,
    private readonly opts: { now?: () => number; refreshBeforeMs?: number; fetch?: typeof fetchRoleCredentials } = {},
  ) {}

  async get(): Promise<RoleCredentials> {
    const now = (this.opts.now ?? Date.now)();
    const c = this.current;
    if (c) {
      const life = c.expiration.getTime() - this.issuedAt;
      const margin = Math.min(this.opts.refreshBeforeMs ?? 5 * 60_000, life / 2);
      if (now < c.expiration.getTime() - margin) return c;
    }
    this.pending ??= (this.opts.fetch ?? fetchRoleCredentials)(this.ask)
      .then((fresh) => {
        this.current = fresh;
        this.issuedAt = (this.opts.now ?? Date.now)();
        return fresh;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** Forget the credentials (e.g. after the service refused them). */
  clear(): void {
    this.current = undefined;
  }
}
