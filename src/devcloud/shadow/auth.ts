/**
 * Signature Version 4 for the IoT data-plane REST API: every request
 * must carry an `Authorization: AWS4-HMAC-SHA256 ...` header, as the AWS SDK always sends; with
 * credentials configured, the signature itself is checked too, so a cloud handler holding the wrong
 * secret fails here as it would against AWS.
 */
import { createHash, createHmac } from 'node:crypto';
import { ALGORITHM, canonicalQuery, parseAmzDate, signaturesEqual, signingKey, uriEncode, type QueryParam } from '../s3/sigv4.js';

/**
 * Signing names AWS accepts for the data plane: the developer guide names `iotdevicegateway`, the AWS
 * SDK for JavaScript v3 signs as `iotdata`.
 */
export const SERVICES: readonly string[] = ['iotdata', 'iotdevicegateway'];
const CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface DataPlaneCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignedRequest {
  method: string;
  /** The path as received, still percent-encoded. */
  rawPath: string;
  rawQuery: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Buffer;
}

/** Why a request is refused (the message AWS gives), or undefined when it may proceed. */
export type AuthFailure = string | undefined;

interface AuthorizationHeader {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(value: string): AuthorizationHeader | undefined {
  if (!value.startsWith(`${ALGORITHM} `)) return undefined;
  const fields = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential')?.split('/');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential?.length !== 5 || credential[4] !== 'aws4_request' || !signedHeaders || !signature) return undefined;
  const [accessKeyId = '', date = '', region = '', service = ''] = credential;
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const raw = headers[name];
  return Array.isArray(raw) ? raw.join(',') : raw;
}

function parseQuery(rawQuery: string): QueryParam[] {
  if (rawQuery === '') return [];
  return rawQuery.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const decode = (s: string): string => {
      try {
        return decodeURIComponent(s.replace(/\+/g, '%20'));
      } catch {
        return s;
      }
    };
    return eq === -1 ? { name: decode(pair), value: '' } : { name: decode(pair.slice(0, eq)), value: decode(pair.slice(eq + 1)) };
  });
}

/**
 * Checks the Authorization header; with `credentials`, also the key id, session token, date and
 * signature. Outside S3, SigV4 encodes each path segment of the (already encoded) path once more.
 */
export function checkSignature(req: SignedRequest, opts: { credentials?: DataPlaneCredentials; now: number }): AuthFailure {
  const authorization = header(req.headers, 'authorization');
  if (authorization === undefined) return 'Missing Authentication Token';
  const auth = parseAuthorization(authorization);
  if (auth === undefined) {
    return `Authorization header requires '${ALGORITHM}' with 'Credential', 'SignedHeaders' and 'Signature' parameters.`;
  }
  const { credentials } = opts;
  if (credentials === undefined) return undefined;
  if (!SERVICES.includes(auth.service)) return `Credential should be scoped to correct service: '${SERVICES.join("' or '")}'.`;
  if (auth.accessKeyId !== credentials.accessKeyId) return 'The security token included in the request is invalid.';
  if (header(req.headers, 'x-amz-security-token') !== credentials.sessionToken) {
    return 'The security token included in the request is invalid.';
  }
  const amzDate = header(req.headers, 'x-amz-date') ?? '';
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined || amzDate.slice(0, 8) !== auth.date) return 'Date must be in ISO-8601 basic format and match the credential scope.';
  if (Math.abs(opts.now - signedAt) > CLOCK_SKEW_MS) return 'Signature expired: the request time is too far from the server time.';

  const canonicalHeaders = auth.signedHeaders
    .map((name) => `${name}:${(header(req.headers, name) ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const payloadHash = header(req.headers, 'x-amz-content-sha256') ?? createHash('sha256').update(req.body).digest('hex');
  const canonicalRequest = [
    req.method,
    req.rawPath.split('/').map(uriEncode).join('/'),
    canonicalQuery(parseQuery(req.rawQuery)),
    canonicalHeaders,
    auth.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, createHash('sha256').update(canonicalRequest, 'utf8').digest('hex')].join('\n');
  const key = signingKey(credentials.secretAccessKey, auth.date, auth.region, auth.service);
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  if (!signaturesEqual(expected, auth.signature)) {
    return 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
  }
  return undefined;
}
