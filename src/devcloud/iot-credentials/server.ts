/**
 * devcloud's AWS IoT credentials provider: `GET /role-aliases/{alias}/credentials` over mutual TLS
 * with a device certificate of devcloud's CA, answering as AWS does (developer guide, "Authorizing
 * direct calls to AWS services"; statuses and messages as recorded against AWS by
 * awslabs/aws-iot-core-credential-provider-session-helper's development notes):
 *
 * - the certificate must belong to a thing (a claim or cloud certificate has no
 *   iot:AssumeRoleWithCertificate in its policy): 403 `Access Denied`;
 * - `x-amzn-iot-thingname`, when given, must be the thing attached to the certificate: 403
 *   `Invalid thing name passed`;
 * - an unknown role alias: 404 `Role alias does not exist`;
 * - else 200 `{"credentials": {accessKeyId, secretAccessKey, sessionToken, expiration}}`, a role session
 *   of the role alias's duration that the KVS stand-in accepts for that thing's channel only
 *   (../kvs/iam.ts, the role policy's `${credentials-iot:ThingName}`).
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../lib/log.js';
import { certificateCn } from '../broker/mtls-front.js';
import { thingOf } from '../broker/acl.js';
import type { CredentialsRegistry } from '../kvs/iam.js';

/** The role alias devcloud serves (the deployed stack's is in infra/live.ts). */
export const DEVCLOUD_ROLE_ALIAS = 'cloudcam-live';
/** A role alias's default credentialDurationSeconds (CreateRoleAlias: 900 to 43200, default 3600). */
export const DEFAULT_CREDENTIAL_SECONDS = 3600;
const PATH = /^\/role-aliases\/([\w=,@-]{1,128})\/credentials$/;

export interface IotCredentialsOptions {
  tls: { cert: Buffer | string; key: Buffer | string; ca: Buffer | string; crl?: Buffer | string };
  registry: CredentialsRegistry;
  roleAlias?: string;
  /** How long each issued session lasts; tests shorten it below AWS's minimum of 900 s. */
  credentialSeconds?: number;
  /**
   * The thing attached to a certificate identity (its CN), or undefined. Default: the brokers' table
   * (acl.ts). devcloud passes its live map, so a certificate deactivated by re-enrolment gets nothing.
   */
  thingOf?: (identity: string) => string | undefined;
  host?: string;
  log: Logger;
}

export interface IotCredentialsProvider {
  /** https://host:port, the `iot:CredentialProvider` endpoint. */
  url: string;
  roleAlias: string;
  stop(): Promise<void>;
}

function answer(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  res.end(text);
}

/** ISO 8601 without milliseconds, as the credentials provider writes `expiration`. */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export async function startIotCredentialsProvider(opts: IotCredentialsOptions): Promise<IotCredentialsProvider> {
  const roleAlias = opts.roleAlias ?? DEVCLOUD_ROLE_ALIAS;
  const seconds = opts.credentialSeconds ?? DEFAULT_CREDENTIAL_SECONDS;
  const { log } = opts;
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0]!;
    const alias = PATH.exec(path)?.[1];
    if (req.method !== 'GET' || alias === undefined) {
      return answer(res, 404, { message: `No resource at ${req.method ?? ''} ${path}; ask GET /role-aliases/{alias}/credentials.` }, 'ResourceNotFoundException');
    }
    const identity = certificateCn(req.socket as TLSSocket);
    const thing = identity === undefined ? undefined : (opts.thingOf ?? thingOf)(identity);
    if (thing === undefined) {
      log.warn({ identity }, 'credentials refused: the certificate belongs to no thing');
      return answer(res, 403, { message: 'Access Denied' }, 'AccessDeniedException');
    }
    const rawHeader = req.headers['x-amzn-iot-thingname'];
    const named = Array.isArray(rawHeader) ? rawHeader.join(',') : rawHeader;
    if (named !== undefined && named !== thing) {
      log.warn({ identity, thing, named }, 'credentials refused: x-amzn-iot-thingname is not the certificate\'s thing');
      return answer(res, 403, { message: 'Invalid thing name passed' }, 'AccessDeniedException');
    }
    if (alias !== roleAlias) return answer(res, 404, { message: 'Role alias does not exist' }, 'ResourceNotFoundException');
    const issued = opts.registry.issueSession({ kind: 'camera-role', thing: named }, seconds);
    log.info({ thing, named: named !== undefined, expiration: isoSeconds(issued.expiresAt) }, 'role credentials issued');
    answer(res, 200, {
      credentials: { accessKeyId: issued.accessKeyId, secretAccessKey: issued.secretAccessKey, sessionToken: issued.sessionToken, expiration: isoSeconds(issued.expiresAt) },
    });
  };
  const server: Server = createServer(
    { cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca, ...(opts.tls.crl ? { crl: opts.tls.crl } : {}), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      try {
        serve(req, res);
      } catch (err) {
        log.error({ err: (err as Error).message }, 'credentials request failed');
        answer(res, 500, { message: 'devcloud failed on this request; see its log.' }, 'InternalFailureException');
      }
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    url: `https://${opts.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`,
    roleAlias,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
