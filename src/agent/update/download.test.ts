import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeGatewayPackage, servePackages, sha256Of, type PackageServer } from '../../../test/helpers/update-kit.js';
import { downloadPackage, DownloadError } from './download.js';

describe('downloadPackage', () => {
  let server: PackageServer;
  let pkg: string;
  beforeAll(async () => {
    pkg = makeGatewayPackage('0.2.0', '#!/bin/sh\necho hi\n', { 'padding.bin': randomBytes(60_000).toString('base64') });
    server = await servePackages({ 'pkg.tar.gz': pkg }, { endless: ['endless.bin'] });
  });
  afterAll(() => server.close());

  const dest = (): string => path.join(mkdtempSync(path.join(tmpdir(), 'dl-')), 'pkg');
  const policy = (): { allowedHosts: string[]; insecureHttpHosts: string[] } => ({ allowedHosts: [server.host], insecureHttpHosts: [server.host] });

  it('streams the package to disk (0600) and measures its size and SHA-256', async () => {
    const file = dest();
    const size = readFileSync(pkg).length;
    const got = await downloadPackage({ url: server.url('pkg.tar.gz'), size, file, policy: policy(), signal: new AbortController().signal, timeoutMs: 10_000 });
    expect(got).toEqual({ bytes: size, sha256: sha256Of(pkg) });
    expect(readFileSync(file)).toEqual(readFileSync(pkg));
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('never writes through a file or symlink already at its destination (O_EXCL)', async () => {
    const file = dest();
    const target = path.join(mkdtempSync(path.join(tmpdir(), 'dl-target-')), 'victim');
    writeFileSync(target, 'keep');
    symlinkSync(target, file);
    const size = readFileSync(pkg).length;
    await expect(downloadPackage({ url: server.url('pkg.tar.gz'), size, file, policy: policy(), signal: new AbortController().signal, timeoutMs: 10_000 })).rejects.toThrow(/EEXIST/);
    expect(readFileSync(target, 'utf8')).toBe('keep');
  });

  it('stops an endless download at the size the document names and leaves no file', async () => {
    const file = dest();
    const err = await downloadPackage({ url: server.url('endless.bin'), size: 200_000, file, policy: policy(), signal: new AbortController().signal, timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as Error).message).toMatch(/went past the 200000 bytes the job document names: stopped there/);
    // The presigned signature in the query never appears in an error.
    expect((err as Error).message).not.toContain('secret-signature');
    expect(existsSync(file)).toBe(false);
  });

  it('refuses a body announced larger than the document says, before reading it', async () => {
    const file = dest();
    await expect(downloadPackage({ url: server.url('pkg.tar.gz'), size: 1000, file, policy: policy(), signal: new AbortController().signal, timeoutMs: 10_000 })).rejects.toThrow(/announces \d+ bytes for the package, the job document says 1000/);
    expect(existsSync(file)).toBe(false);
  });

  it('does not follow a redirect (it would leave the checked host)', async () => {
    const redirect = http.createServer((_req, res) => res.writeHead(302, { location: server.url('pkg.tar.gz') }).end());
    await new Promise<void>((resolve) => redirect.listen(0, '127.0.0.1', resolve));
    try {
      const host = `127.0.0.1:${(redirect.address() as AddressInfo).port}`;
      const size = readFileSync(pkg).length;
      const policyFor = { allowedHosts: [host], insecureHttpHosts: [host] };
      await expect(downloadPackage({ url: `http://${host}/pkg.tar.gz?X-Amz-Signature=secret`, size, file: dest(), policy: policyFor, signal: new AbortController().signal, timeoutMs: 10_000 })).rejects.toThrow(/answered HTTP 302/);
    } finally {
      await new Promise((resolve) => redirect.close(resolve));
    }
  });

  it('refuses a short body, an HTTP error and a host that is not allowed (naming the update.* setting)', async () => {
    const size = readFileSync(pkg).length;
    const signal = new AbortController().signal;
    await expect(downloadPackage({ url: server.url('pkg.tar.gz'), size: size + 1, file: dest(), policy: policy(), signal, timeoutMs: 10_000 })).rejects.toThrow(/ended after \d+ of \d+ bytes/);
    await expect(downloadPackage({ url: server.url('missing'), size, file: dest(), policy: policy(), signal, timeoutMs: 10_000 })).rejects.toThrow(/answered HTTP 404/);
    await expect(downloadPackage({ url: server.url('pkg.tar.gz'), size, file: dest(), policy: { allowedHosts: ['*.amazonaws.com'], insecureHttpHosts: [] }, signal, timeoutMs: 10_000 })).rejects.toThrow(
      /update.insecureHttpDownloadHosts/,
    );
    await expect(downloadPackage({ url: server.url('pkg.tar.gz'), size, file: dest(), policy: { allowedHosts: ['*.amazonaws.com'], insecureHttpHosts: [server.host] }, signal, timeoutMs: 10_000 })).rejects.toThrow(
      /package host 127.0.0.1:\d+ is not in update.allowedDownloadHosts/,
    );
  });
});
