/**
 * A rejected shadow request. `code` and `message` are the ones AWS documents in "Device Shadow error
 * messages"; MQTT clients get them as the /rejected payload, REST clients as the HTTP status and body.
 */

export type ShadowErrorCode = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500;

export interface ErrorDocument {
  code: ShadowErrorCode;
  message: string;
  timestamp: number;
  clientToken?: string;
}

export class ShadowError extends Error {
  override readonly name = 'ShadowError';
  readonly code: ShadowErrorCode;
  readonly clientToken?: string;

  constructor(code: ShadowErrorCode, message: string, clientToken?: string) {
    super(message);
    this.code = code;
    if (clientToken !== undefined) this.clientToken = clientToken;
  }

  /** The error response document (timestamp in epoch seconds). */
  toDocument(timestamp: number): ErrorDocument {
    const doc: ErrorDocument = { code: this.code, message: this.message, timestamp };
    if (this.clientToken !== undefined) doc.clientToken = this.clientToken;
    return doc;
  }
}

/** The messages AWS uses, so that tests and clients can match them exactly. */
export const MESSAGES = {
  invalidJson: 'Invalid JSON',
  missingState: 'Missing required node: state',
  stateNotObject: 'State node must be an object',
  desiredNotObject: 'Desired node must be an object',
  reportedNotObject: 'Reported node must be an object',
  invalidVersion: 'Invalid version',
  invalidClientToken: 'Invalid clientToken',
  tooDeep: 'JSON contains too many levels of nesting; maximum is 6',
  invalidNode: 'State contains an invalid node',
  versionConflict: 'Version conflict',
  tooLarge: 'The payload exceeds the maximum size allowed',
  notUtf8: 'Unsupported documented encoding; supported encoding is UTF-8',
} as const;

export function noShadow(name: string, clientToken?: string): ShadowError {
  return new ShadowError(404, `No shadow exists with name: '${name}'`, clientToken);
}
