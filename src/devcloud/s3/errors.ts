/**
 * S3's REST error shape. The stand-in answers every failure with the same XML document S3 sends,
 * so clients (the AWS SDKs, the agent's uploader) parse our errors exactly as they parse AWS's.
 */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra elements S3 adds for some codes (BucketName, ProposedSize, ArgumentName, ...). */
    readonly extra: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

/** Escapes XML text content; like S3 we leave quotes literal, so messages read as S3's do. */
export function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function errorXml(err: S3Error, requestId: string, hostId: string): string {
  const extra = Object.entries(err.extra)
    .map(([name, value]) => `<${name}>${xmlEscape(value)}</${name}>`)
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${xmlEscape(err.code)}</Code><Message>${xmlEscape(err.message)}</Message>` +
    `${extra}<RequestId>${xmlEscape(requestId)}</RequestId><HostId>${xmlEscape(hostId)}</HostId></Error>`
  );
}

/** Constructors for the errors the stand-in answers; messages follow S3's wording. */
export const errors = {
  noSuchBucket: (bucket: string) =>
    new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket }),
  noSuchKey: (key: string) => new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key }),
  accessDenied: (message = 'Access Denied') => new S3Error(403, 'AccessDenied', message),
  policyExpired: () => new S3Error(403, 'AccessDenied', 'Invalid according to Policy: Policy expired.'),
  conditionFailed: (condition: string) =>
    new S3Error(403, 'AccessDenied', `Invalid according to Policy: Policy Condition failed: ${condition}`),
  extraFields: (names: string[]) =>
    new S3Error(403, 'AccessDenied', `Invalid according to Policy: Extra input fields: ${names.join(', ')}`),
  invalidAccessKeyId: (accessKeyId: string) =>
    new S3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', {
      AWSAccessKeyId: accessKeyId,
    }),
  // S3 also echoes the string to sign and the signature; we do not, so no secret lands in a body or log.
  signatureDoesNotMatch: () =>
    new S3Error(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    ),
  invalidToken: () => new S3Error(400, 'InvalidToken', 'The provided token is malformed or otherwise invalid.'),
  missingField: (name: string) =>
    new S3Error(
      400,
      'InvalidArgument',
      `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
      { ArgumentName: name },
    ),
  invalidArgument: (message: string, argumentName: string) =>
    new S3Error(400, 'InvalidArgument', message, { ArgumentName: argumentName }),
  invalidPolicy: (detail: string) => new S3Error(400, 'InvalidPolicyDocument', `Invalid Policy: ${detail}`),
  regionMismatch: (given: string, expected: string) =>
    new S3Error(
      400,
      'AuthorizationHeaderMalformed',
      `The authorization header is malformed; the region '${given}' is wrong; expecting '${expected}'`,
      { Region: expected },
    ),
  authorizationHeaderMalformed: (message: string) => new S3Error(400, 'AuthorizationHeaderMalformed', message),
  authQueryError: (message: string) => new S3Error(400, 'AuthorizationQueryParametersError', message),
  entityTooLarge: (size: number, max: number) =>
    new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      ProposedSize: String(size),
      MaxSizeAllowed: String(max),
    }),
  entityTooSmall: (size: number, min: number) =>
    new S3Error(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', {
      ProposedSize: String(size),
      MinSizeAllowed: String(min),
    }),
  noFile: () => new S3Error(400, 'IncorrectNumberOfFilesInPostRequest', 'POST requires exactly one file upload per request.'),
  preDataTooLarge: (limit: number) =>
    new S3Error(400, 'MaxPostPreDataLengthExceededError', 'Your POST request fields preceding the upload file were too large.', {
      MaxPostPreDataLengthBytes: String(limit),
    }),
  malformedPost: (detail: string) =>
    new S3Error(400, 'MalformedPOSTRequest', `The body of your POST request is not well-formed multipart/form-data. ${detail}`),
  missingContentLength: () => new S3Error(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.'),
  incompleteBody: () =>
    new S3Error(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.'),
  metadataTooLarge: (size: number, max: number) =>
    new S3Error(400, 'MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.', { Size: String(size), MaxSizeAllowed: String(max) }),
  keyTooLong: (size: number) =>
    new S3Error(400, 'KeyTooLongError', 'Your key is too long', { Size: String(size), MaxSizeAllowed: '1024' }),
  badDigest: () => new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.'),
  methodNotAllowed: (method: string) =>
    new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', {
      Method: method,
      ResourceType: 'OBJECT',
    }),
  internal: () => new S3Error(500, 'InternalError', 'We encountered an internal error. Please try again.'),
  slowDown: () => new S3Error(503, 'SlowDown', 'Please reduce your request rate.'),
};
