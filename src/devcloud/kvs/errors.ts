/**
 * The REST-JSON error shape Kinesis Video Streams answers with: the exception's name in the
 * `x-amzn-ErrorType` header and `{"message": ...}` in the body, which the AWS SDK turns into its typed
 * exceptions (AccessDeniedException, ResourceNotFoundException, ...). Statuses are the API reference's.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';

export class KvsError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'KvsError';
  }
}

export const kvsErrors = {
  invalidArgument: (message: string) => new KvsError(400, 'InvalidArgumentException', message),
  notFound: (message: string) => new KvsError(404, 'ResourceNotFoundException', message),
  inUse: (message: string) => new KvsError(400, 'ResourceInUseException', message),
  clientLimit: (message: string) => new KvsError(400, 'ClientLimitExceededException', message),
  accountChannelLimit: (message: string) => new KvsError(400, 'AccountChannelLimitExceededException', message),
  versionMismatch: (message: string) => new KvsError(400, 'VersionMismatchException', message),
  /** Control plane: 401 (KinesisVideo API reference). */
  accessDenied: (message: string) => new KvsError(401, 'AccessDeniedException', message),
  /** Signalling data plane, GetIceServerConfig: 401. */
  notAuthorized: (message: string) => new KvsError(401, 'NotAuthorizedException', message),
  /** ConnectAsMaster / ConnectAsViewer: 403 ("not authorized to access the given channel or the token has expired"). */
  connectDenied: (message: string) => new KvsError(403, 'AccessDeniedException', message),
};

/** Writes `err` as AWS does for a REST-JSON service. */
export function sendKvsError(res: ServerResponse, err: KvsError): void {
  const body = JSON.stringify({ message: err.message });
  res.writeHead(err.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-amzn-errortype': err.type,
    'x-amzn-requestid': randomUUID(),
  });
  res.end(body);
}

/** The same error as the HTTP answer to a refused WebSocket upgrade, written on the raw socket. */
export function upgradeRefusal(err: KvsError): string {
  const body = JSON.stringify({ message: err.message });
  return (
    `HTTP/1.1 ${err.status} ${err.status === 400 ? 'Bad Request' : err.status === 403 ? 'Forbidden' : err.status === 404 ? 'Not Found' : 'Error'}\r\n` +
    `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-amzn-errortype: ${err.type}\r\nconnection: close\r\n\r\n${body}`
  );
}
