import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { S3Error, errors } from './errors.js';

/** The one algorithm S3 accepts for POST policies and presigned URLs. */
export const ALGORITHM = 'AWS4-HMAC-SHA256';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface CredentialScope {
  accessKeyId: string;
  /** yyyymmdd */
  date: string;
  region: string;
  service: string;
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
export function signingKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  const kDate = hmac(`AWS4${secretAccessKey}`, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

/** For a POST the string to sign is the base64 policy exactly as sent in the form. */
export function postPolicySignature(secretAccessKey: string, scope: CredentialScope, policyBase64: string): string {
  return hmac(signingKey(secretAccessKey, scope.date, scope.region, scope.service), policyBase64).toString('hex');
}

/** Constant-time comparison so a signature check leaks nothing through timing. */
export function signaturesEqual(expectedHex: string, providedHex: string): boolean {
  const a = Buffer.from(expectedHex, 'utf8');
  const b = Buffer.from(providedHex.toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Parses `AKID/yyyymmdd/region/s3/aws4_request`. `what` names the field or parameter in the error
 * (x-amz-credential for a POST, X-Amz-Credential for a presigned URL).
 */
export function parseCredential(value: string, what: string): CredentialScope {
  const parts = value.split('/');
  const [accessKeyId, date, region, service, terminator] = parts;
  if (
    parts.length !== 5 ||
    !accessKeyId ||
    !date ||
    !/^\d{8}$/.test(date) ||
    !region ||
    service !== 's3' ||
    terminator !== 'aws4_request'
  ) {
    throw errors.invalidArgument(
      `${what} is malformed: expected "<access-key-id>/<yyyymmdd>/<region>/s3/aws4_request".`,
      what,
    );
  }
  return { accessKeyId, date, region, service };
}

/** Parses ISO 8601 basic format `yyyymmddThhmmssZ` into epoch ms, or undefined. */
export function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(ms) ? undefined : ms;
}

/** RFC 3986 encoding as SigV4 requires: only A-Z a-z 0-9 - _ . ~ stay literal. */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export interface QueryParam {
  name: string;
  value: string;
}

/** Splits a raw query string into decoded pairs, keeping duplicates and order. */
export function parseQuery(rawQuery: string): QueryParam[] {
  if (rawQuery === '') return [];
  return rawQuery.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    try {
      return { name: decodeURIComponent(rawName), value: decodeURIComponent(rawValue) };
    } catch {
      throw errors.authQueryError('The query string is not valid percent-encoding.');
    }
  });
}

export function canonicalQuery(params: QueryParam[]): string {
  return params
    .map((p) => [uriEncode(p.name), uriEncode(p.value)] as const)
    .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`)
    .join('&');
}

export interface PresignedRequest {
  method: string;
  /** The path exactly as received, still percent-encoded: S3 signs it without re-encoding. */
  rawPath: string;
  rawQuery: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface PresignedVerification {
  credentials: S3Credentials;
}

const MAX_EXPIRES_SECONDS = 604800;
const CLOCK_SKEW_MS = 15 * 60 * 1000;

/**
 * Verifies a query-string-authenticated (presigned) request: required parameters, scope, expiry,
 * session token, then the signature over the canonical request.
 */
export function verifyPresignedRequest(
  req: PresignedRequest,
  opts: { region: string; now: number; lookup: (accessKeyId: string) => S3Credentials | undefined },
): PresignedVerification {
  const params = parseQuery(req.rawQuery);
  const get = (name: string): string | undefined => params.find((p) => p.name === name)?.value;
  const algorithm = get('X-Amz-Algorithm');
  const credential = get('X-Amz-Credential');
  const amzDate = get('X-Amz-Date');
  const expires = get('X-Amz-Expires');
  const signedHeaders = get('X-Amz-SignedHeaders');
  const signature = get('X-Amz-Signature');
  if (algorithm === undefined && signature === undefined && credential === undefined) {
    // An unsigned request to a private bucket.
    throw errors.accessDenied();
  }
  const missing = [
    ['X-Amz-Algorithm', algorithm],
    ['X-Amz-Credential', credential],
    ['X-Amz-Signature', signature],
    ['X-Amz-Date', amzDate],
    ['X-Amz-SignedHeaders', signedHeaders],
    ['X-Amz-Expires', expires],
  ]
    .filter(([, v]) => v === undefined)
    .map(([n]) => n);
  if (missing.length > 0 || !algorithm || !credential || !signature || !amzDate || !signedHeaders || !expires) {
    throw errors.authQueryError(
      `Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters. Missing: ${missing.join(', ')}.`,
    );
  }
  if (algorithm !== ALGORITHM) {
    throw errors.authQueryError(`X-Amz-Algorithm only supports "${ALGORITHM}".`);
  }
  const scope = parseCredential(credential, 'X-Amz-Credential');
  if (scope.region !== opts.region) throw errors.regionMismatch(scope.region, opts.region);
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) {
    throw errors.authQueryError('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'".');
  }
  if (amzDate.slice(0, 8) !== scope.date) {
    throw errors.authQueryError(
      `Invalid credential date "${scope.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`,
    );
  }
  if (!/^\d+$/.test(expires) || Number(expires) > MAX_EXPIRES_SECONDS) {
    throw errors.authQueryError(
      'X-Amz-Expires must be a non-negative integer less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds.',
    );
  }
  if (opts.now > signedAt + Number(expires) * 1000) {
    throw new S3Error(403, 'AccessDenied', 'Request has expired', {
      'X-Amz-Expires': expires,
      Expires: new Date(signedAt + Number(expires) * 1000).toISOString(),
      ServerTime: new Date(opts.now).toISOString(),
    });
  }
  if (signedAt > opts.now + CLOCK_SKEW_MS) {
    throw errors.accessDenied('Request is not valid yet');
  }
  const credentials = opts.lookup(scope.accessKeyId);
  if (!credentials) throw errors.invalidAccessKeyId(scope.accessKeyId);
  const token = get('X-Amz-Security-Token');
  if ((credentials.sessionToken ?? undefined) !== token) throw errors.invalidToken();

  const expected = requestSignature(req, {
    params: params.filter((p) => p.name !== 'X-Amz-Signature'),
    signedHeaders,
    payloadHash: get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD',
    amzDate,
    scope,
    secretAccessKey: credentials.secretAccessKey,
  });
  if (!signaturesEqual(expected, signature)) throw errors.signatureDoesNotMatch();
  return { credentials };
}

/**
 * hex(HMAC(signing key, string to sign)) over the canonical request [Query auth], [Header auth]: the
 * method, the path exactly as sent (S3 does not encode it twice), the sorted RFC 3986 query, the
 * signed headers (which must include host), and the payload hash.
 */
function requestSignature(
  req: PresignedRequest,
  parts: { params: QueryParam[]; signedHeaders: string; payloadHash: string; amzDate: string; scope: CredentialScope; secretAccessKey: string },
): string {
  const headerNames = parts.signedHeaders.split(';');
  if (!headerNames.includes('host')) {
    throw errors.authQueryError('SignedHeaders must include the host header.');
  }
  const canonicalHeaders = headerNames
    .map((name) => {
      const raw = req.headers[name];
      const value = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
      return `${name}:${value.trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
  const canonicalRequest = [req.method, req.rawPath, canonicalQuery(parts.params), canonicalHeaders, parts.signedHeaders, parts.payloadHash].join('\n');
  return signCanonicalRequest(canonicalRequest, parts.amzDate, parts.scope, parts.secretAccessKey);
}

/** hex(HMAC(signing key, string to sign)) for a canonical request: the last step of every SigV4 check. */
export function signCanonicalRequest(canonicalRequest: string, amzDate: string, scope: CredentialScope, secretAccessKey: string): string {
  const stringToSign = [
    ALGORITHM,
    amzDate,
    `${scope.date}/${scope.region}/${scope.service}/aws4_request`,
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');
  return hmac(signingKey(secretAccessKey, scope.date, scope.region, scope.service), stringToSign).toString('hex');
}

/** SHA-256 of an empty payload: what a signed GET carries in x-amz-content-sha256. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` into its three parts, or undefined. */
export function parseAuthorization(value: string): { credential: string; signedHeaders: string; signature: string } | undefined {
  if (!value.startsWith(`${ALGORITHM} `)) return undefined;
  const fields = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  return credential && signedHeaders && signature ? { credential, signedHeaders, signature } : undefined;
}

/**
 * Verifies a request signed in the Authorization header (how the AWS SDKs sign every API call, e.g.
 * ListObjectsV2) [Header auth]: header shape, scope, date within 15 minutes of the server's clock,
 * session token, then the signature. Only bodiless requests are served this way, so the payload
 * hash must be that of an empty body or UNSIGNED-PAYLOAD.
 */
export function verifyHeaderSignedRequest(
  req: PresignedRequest,
  opts: { region: string; now: number; lookup: (accessKeyId: string) => S3Credentials | undefined },
): PresignedVerification {
  const header = req.headers['authorization'];
  const authorization = Array.isArray(header) ? header[0] : header;
  if (authorization === undefined) throw errors.accessDenied();
  const parsed = parseAuthorization(authorization);
  if (!parsed) {
    throw errors.authorizationHeaderMalformed(
      `The authorization header is malformed; expected "${ALGORITHM} Credential=<key>/<yyyymmdd>/<region>/s3/aws4_request, SignedHeaders=..., Signature=...".`,
    );
  }
  const scope = parseCredential(parsed.credential, 'Credential');
  if (scope.region !== opts.region) throw errors.regionMismatch(scope.region, opts.region);
  const rawDate = req.headers['x-amz-date'];
  const amzDate = Array.isArray(rawDate) ? rawDate[0] : rawDate;
  const signedAt = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (amzDate === undefined || signedAt === undefined) {
    throw errors.accessDenied('AWS authentication requires a valid Date or x-amz-date header');
  }
  if (amzDate.slice(0, 8) !== scope.date) {
    throw errors.authorizationHeaderMalformed(
      `The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.`,
    );
  }
  if (Math.abs(opts.now - signedAt) > CLOCK_SKEW_MS) {
    throw new S3Error(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
      RequestTime: amzDate,
      ServerTime: new Date(opts.now).toISOString(),
      MaxAllowedSkewMilliseconds: String(CLOCK_SKEW_MS),
    });
  }
  const rawHash = req.headers['x-amz-content-sha256'];
  const payloadHash = Array.isArray(rawHash) ? rawHash[0] : rawHash;
  if (payloadHash === undefined) {
    throw new S3Error(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  if (payloadHash !== EMPTY_SHA256 && payloadHash !== 'UNSIGNED-PAYLOAD') {
    throw new S3Error(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  const credentials = opts.lookup(scope.accessKeyId);
  if (!credentials) throw errors.invalidAccessKeyId(scope.accessKeyId);
  const rawToken = req.headers['x-amz-security-token'];
  const token = Array.isArray(rawToken) ? rawToken[0] : rawToken;
  if ((credentials.sessionToken ?? undefined) !== token) throw errors.invalidToken();
  const expected = requestSignature(req, {
    params: parseQuery(req.rawQuery),
    signedHeaders: parsed.signedHeaders,
    payloadHash,
    amzDate,
    scope,
    secretAccessKey: credentials.secretAccessKey,
  });
  if (!signaturesEqual(expected, parsed.signature)) throw errors.signatureDoesNotMatch();
  return { credentials };
}
