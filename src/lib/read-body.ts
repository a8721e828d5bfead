import type { IncomingMessage } from 'node:http';

/**
 * One bounded request-body reader for every HTTP listener of ours. Resolves with the body, or with
 * undefined as soon as it passes maxBytes: the rest is then read and discarded (never buffered), so
 * the listener can still answer 413 on the same connection instead of waiting for an endless body.
 */
export function readBoundedBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > maxBytes) {
        req.off('data', onData);
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(size > maxBytes ? undefined : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}
