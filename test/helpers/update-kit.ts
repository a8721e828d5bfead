/**
 * Pieces for update tests: a release key, gateway-layout packages (a tarball whose `cloudcam` is a
 * small program), signed cloudcam.update documents, an HTTP server that serves a package, and a
 * JobRun that records what an operation reports.
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { JobRun } from '../../src/agent/features/jobs/operation.js';
import type { JobExecution, StatusDetails } from '../../src/protocol/jobs.js';
import { signRelease } from '../../src/protocol/release-signature.js';
import type { UpdateArchitecture } from '../../src/protocol/update-document.js';

export interface ReleaseKey {
  keyId: string;
  privatePem: string;
  /** A folder holding {keyId}.pem, as certs/release-keys/ would. */
  dir: string;
}

export function makeReleaseKey(keyId = 'test-release'): ReleaseKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const dir = mkdtempSync(path.join(tmpdir(), 'release-keys-'));
  writeFileSync(path.join(dir, `${keyId}.pem`), publicKey.export({ type: 'spki', format: 'pem' }));
  return { keyId, privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), dir };
}

/** A gateway tarball (top folder cloudcam-{version}/) whose executable is the given sh script. */
export function makeGatewayPackage(version: string, script: string, files: Record<string, string> = {}): string {
  const work = mkdtempSync(path.join(tmpdir(), 'gw-package-'));
  const top = path.join(work, `cloudcam-${version}`);
  mkdirSync(top);
  writeFileSync(path.join(top, 'cloudcam'), script);
  chmodSync(path.join(top, 'cloudcam'), 0o755);
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(top, name), content);
  const file = path.join(work, `cloudcam_${version}_test.tar.gz`);
  execFileSync('tar', ['-czf', file, '-C', work, `cloudcam-${version}`]);
  return file;
}

export function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export function updateDocument(opts: {
  file: string;
  url: string;
  version: string;
  architecture: UpdateArchitecture;
  key: ReleaseKey;
  allowDowngrade?: boolean;
  /** Sign these fields instead of the true ones (a forged or mismatched signature). */
  signAs?: Partial<{ sha256: string; version: string; size: number; architecture: UpdateArchitecture; allowDowngrade: boolean }>;
}): Record<string, unknown> {
  const bytes = readFileSync(opts.file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const fields = { sha256, size: bytes.length, version: opts.version, architecture: opts.architecture, allowDowngrade: opts.allowDowngrade ?? false };
  return {
    operation: 'cloudcam.update',
    version: opts.version,
    architecture: opts.architecture,
    package: { url: opts.url, size: bytes.length, sha256, signature: signRelease(opts.key.privatePem, { ...fields, ...opts.signAs }), keyId: opts.key.keyId },
    allowDowngrade: opts.allowDowngrade ?? false,
  };
}

export interface PackageServer {
  /** host:port, for update.insecureHttpDownloadHosts. */
  readonly host: string;
  url(name: string): string;
  /** Bytes sent per request path, summed over requests (to see a download cut short, or none made). */
  readonly sent: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Serves files by name; `endless` names are streamed without Content-Length and never end
 * (until the client goes), to test the size bound.
 */
export async function servePackages(files: Record<string, string>, opts: { endless?: string[] } = {}): Promise<PackageServer> {
  const sent = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.slice(1));
    if (opts.endless?.includes(name)) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(16 * 1024, 7);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk)) sent.set(name, (sent.get(name) ?? 0) + chunk.length);
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => undefined);
      pump();
      return;
    }
    const file = files[name];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    const body = readFileSync(file);
    sent.set(name, (sent.get(name) ?? 0) + body.length);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (name) => `http://127.0.0.1:${port}/${encodeURIComponent(name)}?X-Amz-Signature=secret-signature`,
    host: `127.0.0.1:${port}`,
    sent,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RecordedRun extends JobRun {
  readonly reports: StatusDetails[];
  /** The step timeout each progress asked for (undefined: kept). */
  readonly stepTimeouts: (number | undefined)[];
}

export function jobRun(jobId: string, document: unknown, statusDetails: StatusDetails = {}, signal = new AbortController().signal): RecordedRun {
  const reports: StatusDetails[] = [];
  const stepTimeouts: (number | undefined)[] = [];
  const execution: JobExecution = { jobId, thingName: 'cam-1', jobDocument: document, status: 'IN_PROGRESS', queuedAt: 0, lastUpdatedAt: 0, versionNumber: 1, executionNumber: 1, ...(Object.keys(statusDetails).length ? { statusDetails } : {}) };
  return {
    jobId,
    document,
    statusDetails,
    execution,
    signal,
    reports,
    stepTimeouts,
    progress: (details, stepTimeoutInMinutes) => {
      reports.push(details);
      stepTimeouts.push(stepTimeoutInMinutes);
      return Promise.resolve();
    },
  };
}
