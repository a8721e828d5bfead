import { createServer } from 'node:net';

/**
 * A TCP port that was free a moment ago on `host`, for a process that must be told its port (a broker
 * restarted on the same port, mosquitto's config). Another process can take it before it is used:
 * callers that bind it themselves retry on EADDRINUSE.
 */
export async function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not determine a free TCP port');
  return address.port;
}
