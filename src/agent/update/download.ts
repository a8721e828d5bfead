/**
 * Downloads an update package from the job document's presigned GET into the agent's own state,
 * streamed to disk and hashed on the way, never more than the document's size: a server that sends
 * more is cut off at that bound, before the disk fills. The URL is untrusted input like a snapshot
 * upload URL (SSRF): the same target check (allow-list, https, no non-public address unless
 * exactly allowed, connection pinned to the checked address) with the update.* lists. Logs and
 * errors name only the URL's origin and path: its query is a presigned signature.
 */
import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { httpRequest, discardBody } from '../../protocol/http-request.js';
import { pinnedAgent, resolveUploadTarget, type UploadTargetPolicy } from '../upload-target.js';

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
}

export interface DownloadOptions {
  url: string;
  /** The document's package.size: exactly this many bytes, not one more. */
  size: number;
  /** Where the bytes go (created exclusively, 0600; removed on any failure). */
  file: string;
  policy: UploadTargetPolicy;
  signal: AbortSignal;
  timeoutMs: number;
}

export interface Downloaded {
  bytes: number;
  sha256: string;
}

/** The URL without its query (the presigned signature never reaches a log or statusDetails). */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/** The target check speaks of snapshot uploads; say which settings govern downloads instead. */
function downloadWording(error: string): string {
  return error
    .replaceAll('snapshot.allowedUploadHosts', 'update.allowedDownloadHosts')
    .replaceAll('snapshot.insecureHttpUploadHosts', 'update.insecureHttpDownloadHosts')
    .replace(/\bupload (url|host)\b/g, 'package $1');
}

export async function downloadPackage(opts: DownloadOptions): Promise<Downloaded> {
  const where = redactUrl(opts.url);
  const target = await resolveUploadTarget(opts.url, opts.policy);
  if (!target.ok) throw new DownloadError(downloadWording(target.error));
  const agent = pinnedAgent(target.url.protocol, target);
  const signal = AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs)]);
  const handle = await open(opts.file, 'wx', 0o600);
  let complete = false;
  try {
    const res = await httpRequest(target.url, { method: 'GET', headers: { accept: 'application/octet-stream' }, signal, agent });
    if (res.statusCode !== 200) {
      await discardBody(res.body, 4096);
      throw new DownloadError(`the package download from ${where} answered HTTP ${res.statusCode}${res.statusCode === 403 ? ' (an expired presigned URL? the job document is delivered with a fresh one: retry the job)' : ''}`);
    }
    const announced = Number(res.headers['content-length']);
    if (Number.isFinite(announced) && announced > opts.size) {
      res.body.destroy();
      throw new DownloadError(`the server announces ${announced} bytes for the package, the job document says ${opts.size}: not downloading it`);
    }
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > opts.size) {
        res.body.destroy();
        throw new DownloadError(`the package download from ${where} went past the ${opts.size} bytes the job document names: stopped there`);
      }
      hash.update(chunk);
      await handle.write(chunk);
    }
    if (bytes !== opts.size) throw new DownloadError(`the package download from ${where} ended after ${bytes} of ${opts.size} bytes`);
    await handle.sync();
    complete = true;
    return { bytes, sha256: hash.digest('hex') };
  } catch (err) {
    if (err instanceof DownloadError) throw err;
    const why = signal.aborted && !opts.signal.aborted ? `took longer than ${Math.round(opts.timeoutMs / 1000)} s` : (err as Error).message;
    throw new DownloadError(`the package download from ${where} failed: ${why}`, { cause: err });
  } finally {
    await handle.close();
    agent.destroy();
    if (!complete) await rm(opts.file, { force: true });
  }
}
