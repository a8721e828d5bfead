/**
 * SigV4 as a JSON AWS service checks it (not S3's dialect: the path's segments are encoded once more,
 * the payload hash is computed over the body), for both ways the live-view clients sign: the
 * Authorization header (the AWS SDK's control-plane and GetIceServerConfig calls) and the presigned
 * query (ConnectAsMaster / ConnectAsViewer WebSocket URLs). The building blocks are the S3 stand-in's
 * (../s3/sigv4.ts); the errors are those IAM answers for every JSON service: 403
 * MissingAuthenticationToken, UnrecognizedClient, ExpiredToken, InvalidSignature; 400 IncompleteSignature.
 */
import { createHash } from 'node:crypto';
import { ALGORITHM, canonicalQuery, parseAmzDate, parseAuthorization, parseQuery, signCanonicalRequest, signaturesEqual, uriEncode, type CredentialScope, type QueryParam } from '../s3/sigv4.js';
import { KvsError } from './errors.js';
import type { CredentialsRegistry, HeldCredentials } from './iam.js';

export const KVS_SERVICE = 'kinesisvideo';
/** AWS allows 5 minutes between a header-signed request's date and its own clock. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const MAX_PRESIGN_SECONDS = 604_800;
const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

export interface SigV4Request {
  method: string;
  /** As received, still percent-encoded. */
  rawPath: string;
  rawQuery: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body?: Buffer;
}

export interface SigV4Options {
  region: string;
  now: number;
  registry: CredentialsRegistry;
}

const denied = {
  missing: () => new KvsError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token'),
  incomplete: (message: string) => new KvsError(400, 'IncompleteSignatureException', message),
  signature: (message: string) => new KvsError(403, 'InvalidSignatureException', message),
  unknownKey: () => new KvsError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.'),
  expiredToken: () => new KvsError(403, 'ExpiredTokenException', 'The security token included in the request is expired'),
  mismatch: () =>
    new KvsError(
      403,
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    ),
};

function header(headers: SigV4Request['headers'], name: string): string | undefined {
  const raw = headers[name];
  return Array.isArray(raw) ? raw.join(',') : raw;
}

function parseCredentialScope(credential: string, region: string): CredentialScope {
  const [accessKeyId = '', date = '', scopeRegion = '', service = '', terminator = ''] = credential.split('/');
  if (credential.split('/').length !== 5 || !accessKeyId || !/^\d{8}$/.test(date) || terminator !== 'aws4_request') {
    throw denied.incomplete(`Credential must have the form "<access-key-id>/<yyyymmdd>/<region>/${KVS_SERVICE}/aws4_request", not "${credential}".`);
  }
  if (scopeRegion !== region) throw denied.signature(`Credential should be scoped to a valid region, not '${scopeRegion}'. `);
  if (service !== KVS_SERVICE) throw denied.signature(`Credential should be scoped to correct service: '${KVS_SERVICE}'. `);
  return { accessKeyId, date, region: scopeRegion, service };
}

/** The key pair behind the scope, refused when unknown, expired, or presented with another session token. */
function holderOf(scope: CredentialScope, token: string | undefined, opts: SigV4Options): HeldCredentials {
  const held = opts.registry.lookup(scope.accessKeyId);
  if (!held || held.sessionToken !== token) throw denied.unknownKey();
  if (held.expiresAt !== undefined && held.expiresAt <= opts.now) throw denied.expiredToken();
  return held;
}

function signatureOf(
  req: SigV4Request,
  parts: { params: QueryParam[]; signedHeaders: string; payloadHash: string; amzDate: string; scope: CredentialScope; secretAccessKey: string },
): string {
  const names = parts.signedHeaders.split(';');
  if (!names.includes('host')) throw denied.signature("'Host' must be a signed header.");
  const canonicalHeaders = names.map((name) => `${name}:${(header(req.headers, name) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [
    req.method,
    req.rawPath.split('/').map(uriEncode).join('/'),
    canonicalQuery(parts.params),
    canonicalHeaders,
    parts.signedHeaders,
    parts.payloadHash,
  ].join('\n');
  return signCanonicalRequest(canonicalRequest, parts.amzDate, parts.scope, parts.secretAccessKey);
}

function queryParams(rawQuery: string): QueryParam[] {
  try {
    return parseQuery(rawQuery);
  } catch {
    throw denied.incomplete('The query string is not valid percent-encoding.');
  }
}

/** A request signed in its Authorization header: shape, scope, date within 5 minutes, key, token, signature. */
export function verifyHeaderSignature(req: SigV4Request, opts: SigV4Options): HeldCredentials {
  const authorization = header(req.headers, 'authorization');
  if (authorization === undefined) throw denied.missing();
  if (!authorization.startsWith(`${ALGORITHM} `)) throw denied.incomplete(`Only ${ALGORITHM} is supported.`);
  const parsed = parseAuthorization(authorization);
  if (!parsed) throw denied.incomplete("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.");
  const { credential, signedHeaders, signature } = parsed;
  const scope = parseCredentialScope(credential, opts.region);
  const amzDate = header(req.headers, 'x-amz-date') ?? '';
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined || amzDate.slice(0, 8) !== scope.date) {
    throw denied.incomplete('X-Amz-Date must be in ISO 8601 basic format and match the credential scope.');
  }
  if (Math.abs(opts.now - signedAt) > CLOCK_SKEW_MS) {
    throw denied.signature(`Signature expired: ${amzDate} is now earlier or later than the server time by more than 5 minutes.`);
  }
  const held = holderOf(scope, header(req.headers, 'x-amz-security-token'), opts);
  const payloadHash = header(req.headers, 'x-amz-content-sha256') ?? createHash('sha256').update(req.body ?? Buffer.alloc(0)).digest('hex');
  const expected = signatureOf(req, { params: queryParams(req.rawQuery), signedHeaders, payloadHash, amzDate, scope, secretAccessKey: held.secretAccessKey });
  if (!signaturesEqual(expected, signature)) throw denied.mismatch();
  return held;
}

/**
 * A presigned URL (query authentication): every X-Amz-* parameter present, scope, not expired and not
 * from the future, key, token, then the signature over everything else in the query (X-Amz-ChannelARN,
 * X-Amz-ClientId: neither can be changed without breaking it).
 */
export function verifyPresignedQuery(req: SigV4Request, opts: SigV4Options): { held: HeldCredentials; params: QueryParam[] } {
  const params = queryParams(req.rawQuery);
  const get = (name: string): string | undefined => params.find((p) => p.name === name)?.value;
  const signature = get('X-Amz-Signature');
  const credential = get('X-Amz-Credential');
  if (signature === undefined && credential === undefined) throw denied.missing();
  const required = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature'];
  const missing = required.filter((name) => get(name) === undefined);
  if (missing.length > 0) throw denied.incomplete(`The presigned URL lacks ${missing.join(', ')}.`);
  if (get('X-Amz-Algorithm') !== ALGORITHM) throw denied.incomplete(`X-Amz-Algorithm must be ${ALGORITHM}.`);
  const scope = parseCredentialScope(credential!, opts.region);
  const amzDate = get('X-Amz-Date')!;
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined || amzDate.slice(0, 8) !== scope.date) {
    throw denied.incomplete('X-Amz-Date must be in ISO 8601 basic format and match the credential scope.');
  }
  const expires = get('X-Amz-Expires')!;
  if (!/^\d{1,6}$/.test(expires) || Number(expires) > MAX_PRESIGN_SECONDS) {
    throw denied.incomplete(`X-Amz-Expires must be a whole number of seconds up to ${MAX_PRESIGN_SECONDS}.`);
  }
  if (opts.now > signedAt + Number(expires) * 1000) throw denied.signature(`Signature expired: the URL was valid until ${new Date(signedAt + Number(expires) * 1000).toISOString()}.`);
  if (signedAt > opts.now + CLOCK_SKEW_MS) throw denied.signature('Signature not yet current: X-Amz-Date is in the future.');
  const held = holderOf(scope, get('X-Amz-Security-Token'), opts);
  const expected = signatureOf(req, {
    params: params.filter((p) => p.name !== 'X-Amz-Signature'),
    signedHeaders: get('X-Amz-SignedHeaders')!,
    payloadHash: get('X-Amz-Content-Sha256') ?? EMPTY_SHA256,
    amzDate,
    scope,
    secretAccessKey: held.secretAccessKey,
  });
  if (!signaturesEqual(expected, signature!)) throw denied.mismatch();
  return { held, params };
}
