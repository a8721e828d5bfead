import { connect } from 'node:net';

export interface RawExchange {
  /** Everything the server sent before closing (or before `timeoutMs`). */
  response: string;
  /** The status code of the first response line, if any. */
  status?: number;
  /** True when the server neither answered nor closed within `timeoutMs` after our half-close. */
  hung: boolean;
}

/**
 * Sends `bytes` as they are over a plain TCP socket (no HTTP client tidies them up), half-closes, and
 * collects the answer until the server closes. For requests no HTTP client would send.
 */
export function rawExchange(port: number, bytes: Buffer | string, timeoutMs = 5_000): Promise<RawExchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const finish = (hung: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      const response = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1];
      resolve({ response, hung, ...(status !== undefined ? { status: Number(status) } : {}) });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A server may reset instead of closing politely: that is an answer too.
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
    socket.on('end', () => finish(false));
    socket.write(bytes, () => socket.end());
  });
}

/** A well-formed request, to check that a server still serves after abuse. */
export function goodRequest(method: string, path: string, host = '127.0.0.1'): string {
  return `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;
}
