/**
 * The cloudcam.update operation in the gateway layout, against real files, a real HTTP server and
 * real tar: each process of the agent is one createUpdateOperation (the old version runs `run`, the
 * new version, a second instance with another runningVersion, runs `resume`).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobRun, makeGatewayPackage, makeReleaseKey, servePackages, updateDocument, type PackageServer, type ReleaseKey } from '../../../test/helpers/update-kit.js';
import { loadReleaseKeys } from '../../protocol/release-signature.js';
import { createGatewayInstaller, readPointer } from './gateway-installer.js';
import { createUpdateOperation } from './operation.js';
import { UpdateRecords } from './records.js';
import { startUpdateWatch } from './rollback-watch.js';

const log = pino({ level: 'silent' });

describe('cloudcam.update in the gateway layout', () => {
  let key: ReleaseKey;
  let server: PackageServer;
  let pkg020: string;
  let pkg010: string;
  beforeAll(async () => {
    key = makeReleaseKey();
    pkg020 = makeGatewayPackage('0.2.0', '#!/bin/sh\necho 0.2.0\n');
    pkg010 = makeGatewayPackage('0.1.0', '#!/bin/sh\necho 0.1.0\n');
    server = await servePackages({ '0.2.0.tgz': pkg020, '0.1.0.tgz': pkg010 });
  });
  afterAll(() => server.close());

  /** One agent process in a gateway root: its operation, watch and what it asked of the service manager. */
  async function agentProcess(root: string, runningVersion: string, opts: { selfCheck?: string; connectBoundMs?: number; now?: () => number } = {}) {
    const records = new UpdateRecords(path.join(root, 'update'));
    const installer = createGatewayInstaller({ root });
    const restarts: string[] = [];
    const restart = (why: string): void => void restarts.push(why);
    const watch = await startUpdateWatch({ records, installer, runningVersion, restart, log, ...(opts.now ? { now: opts.now } : {}) });
    const operation = createUpdateOperation({
      runningVersion,
      architecture: 'x86_64',
      keys: loadReleaseKeys(key.dir),
      installer,
      records,
      watch,
      policy: { allowedHosts: [server.host], insecureHttpHosts: [server.host] },
      maxPackageBytes: 10 * 1024 * 1024,
      downloadTimeoutMs: 10_000,
      connectBoundMs: opts.connectBoundMs ?? 600_000,
      maxStarts: 3,
      selfCheck: () => Promise.resolve(opts.selfCheck),
      restart,
      log,
      ...(opts.now ? { now: opts.now } : {}),
    });
    return { operation, watch, restarts, records };
  }

  const doc = (over: Partial<Parameters<typeof updateDocument>[0]> = {}): Record<string, unknown> =>
    updateDocument({ file: pkg020, url: server.url('0.2.0.tgz'), version: '0.2.0', architecture: 'x86_64', key, ...over });

  const withSha256 = (d: Record<string, unknown>, sha256: string): Record<string, unknown> => ({ ...d, package: { ...(d['package'] as object), sha256 } });

  const untouched = (root: string): void => {
    expect(existsSync(path.join(root, 'current'))).toBe(false);
    expect(existsSync(path.join(root, 'releases'))).toBe(false);
    expect(existsSync(path.join(root, 'update', 'pending'))).toBe(false);
  };

  it('installs a signed newer package, hands over, and the new version confirms itself', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'gw-root-'));
    const old = await agentProcess(root, '0.1.0');
    // What a download killed half-way (SIGKILL, power loss) left behind: not kept for ever.
    mkdirSync(path.join(root, 'update', 'download'), { recursive: true });
    writeFileSync(path.join(root, 'update', 'download', `${'ef'.repeat(32)}.pkg`), Buffer.alloc(4096));
    const run = jobRun('job-ok', doc());
    const outcome = await old.operation.run(run);
    expect(outcome).toMatchObject({ status: 'HANDED_OVER', details: { stage: 'installed', version: '0.2.0', from: '0.1.0', layout: 'gateway' } });
    expect(run.reports.map((r) => r['stage'])).toEqual(['downloading', 'installing', 'installed']);
    // Step timeouts renewed to outlast the download (10 s here) and the connect bound (10 min), plus 5 minutes.
    expect(run.stepTimeouts).toEqual([6, 15, 15]);
    expect(old.restarts).toHaveLength(1);
    expect(await readPointer(root, 'current')).toBe('0.2.0');
    expect(await readPointer(root, 'previous')).toBe('base');
    expect(readFileSync(path.join(root, 'releases', '0.2.0', 'cloudcam'), 'utf8')).toContain('echo 0.2.0');
    expect(readdirSync(path.join(root, 'update', 'download'))).toEqual([]); // the download is not kept once unpacked

    const fresh = await agentProcess(root, '0.2.0');
    expect(fresh.watch.pending?.jobId).toBe('job-ok');
    const resumed = await fresh.operation.resume!(jobRun('job-ok', doc(), outcome.details));
    expect(resumed).toMatchObject({ status: 'SUCCEEDED', details: { stage: 'confirmed', version: '0.2.0' } });
    expect(await fresh.records.pending()).toBeUndefined();
    fresh.watch.stop();
  });

  it.each([
    // Signed as it stands, but the bucket serves other bytes: only the download can tell.
    ['a wrong hash', () => withSha256(doc({ signAs: { sha256: 'ab'.repeat(32) } }), 'ab'.repeat(32)), /SHA-256 is [0-9a-f]{64}, the job document says abab/, true],
    ['a hash changed after signing', () => withSha256(doc(), 'ab'.repeat(32)), /release signature does not match this package/, false],
    ['a signature over another hash', () => doc({ signAs: { sha256: 'cd'.repeat(32) } }), /release signature does not match this package/, false],
    ['a signature over another version (an old package relabelled)', () => doc({ file: pkg010, url: server.url('0.1.0.tgz'), signAs: { version: '0.1.0' } }), /release signature does not match/, false],
    ['a signature by an untrusted key', () => doc({ key: { ...makeReleaseKey('test-release') } }), /release signature does not match/, false],
  ])('fails %s and touches nothing: the old version keeps running', async (_name, make, reason, downloads) => {
    const root = mkdtempSync(path.join(tmpdir(), 'gw-root-'));
    const old = await agentProcess(root, '0.1.0');
    const document = make();
    const name = path.basename(new URL(((document['package'] as { url: string }).url)).pathname);
    const before = server.sent.get(name) ?? 0;
    const outcome = await old.operation.run(jobRun('job-bad', document));
    expect(outcome.status).toBe('FAILED');
    expect(outcome.details['reason']).toMatch(reason);
    // A document the release key did not sign as it stands costs no download.
    expect((server.sent.get(name) ?? 0) > before).toBe(downloads);
    expect(old.restarts).toEqual([]);
    untouched(root);
  });

  it('rejects a downgrade unless the document allows it, another architecture and an unknown key, before downloading', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'gw-root-'));
    const newer = await agentProcess(root, '0.3.0');
    const before = server.sent.get('0.2.0.tgz') ?? 0;
    const down = await newer.operation.run(jobRun('job-down', doc()));
    expect(down.status).toBe('REJECTED');
    expect(down.details['reason']).toMatch(/older than the running 0.3.0.*allowDowngrade/);
    const arm = await newer.operation.run(jobRun('job-arch', doc({ architecture: 'aarch64', allowDowngrade: true })));
    expect(arm).toMatchObject({ status: 'REJECTED', details: { reason: 'the package is for aarch64, this agent runs on x86_64' } });
    const other = makeReleaseKey('other-key');
    const unknown = await newer.operation.run(jobRun('job-key', doc({ key: other, allowDowngrade: true })));
    expect(unknown.status).toBe('REJECTED');
    expect(unknown.details['reason']).toMatch(/"other-key", which this agent does not trust \(trusted: test-release\)/);
    expect(server.sent.get('0.2.0.tgz') ?? 0).toBe(before);
    untouched(root);

    const allowed = await newer.operation.run(jobRun('job-down-ok', doc({ allowDowngrade: true })));
    expect(allowed.status).toBe('HANDED_OVER');
    expect(await readPointer(root, 'current')).toBe('0.2.0');
  });

  it('refuses a downgrade that the job creator allowed but the release key did not sign (a rogue operator pushing an old release)', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'gw-root-'));
    const newer = await agentProcess(root, '0.3.0');
    // 0.2.0 genuinely signed as an ordinary release; "allowDowngrade": true added by whoever created the job.
    const outcome = await newer.operation.run(jobRun('job-rogue-down', doc({ allowDowngrade: true, signAs: { allowDowngrade: false } })));
    expect(outcome.status).toBe('FAILED');
    expect(outcome.details['reason']).toMatch(/release signature does not match this package .*downgrade allowed: the release key must sign that too/);
    expect(newer.restarts).toEqual([]);
    untouched(root);
  });

  it('rolls back when the new version cannot connect within the bound; the old version reports FAILED with the reason', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'gw-root-'));
    const old = await agentProcess(root, '0.1.0', { connectBoundMs: 1000 });
    const outcome = await old.operation.run(jobRun('job-noconnect', doc()));
    expect(outcome.status).toBe('HANDED_OVER');

    // The new version starts but never connects: its watch rolls back at the deadline and exits.
    const started = Date.now();
    const stuck = await agentProcess(root, '0.2.0');
    await expect.poll(() => stuck.restarts.length, { timeout: 5000, interval: 50 }).toBe(1);
    expect(Date.now() - started).toBeLessThan(3000); // bound 1 s, whole seconds
    expect(await readPointer(root, 'current')).toBe('base');

    const back = await agentProcess(root, '0.1.0');
    const resumed = await back.operation.resume!(jobRun('job-noconnect', doc(), outcome.details));
    expect(resumed).toMatchObject({ status: 'FAILED', details: { stage: 'rolled-back' } });
    expect(resumed.details['reason']).toMatch(/did not connect and pass its self-check within 1 s/);
    expect(await back.records.rolledBack()).toBeUndefined();
  });

  it('rolls back when the new version connects but its self-check fails', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'gw-root-'));
    const old = await agentProcess(root, '0.1.0');
    const outcome = await old.operation.run(jobRun('job-selfcheck', doc()));
    const sick = await agentProcess(root, '0.2.0', { selfCheck: 'the camera did not answer over VAPIX: 401' });
    const resumed = await sick.operation.resume!(jobRun('job-selfcheck', doc(), outcome.details));
    expect(resumed).toMatchObject({ status: 'HANDED_OVER', details: { stage: 'rolling-back' } });
    expect(sick.restarts).toHaveLength(1);
    expect(await readPointer(root, 'current')).toBe('base');
    const back = await agentProcess(root, '0.1.0');
    const final = await back.operation.resume!(jobRun('job-selfcheck', doc(), resumed.details));
    expect(final.status).toBe('FAILED');
    expect(final.details['reason']).toMatch(/self-check failed: the camera did not answer over VAPIX: 401/);
  });

  it('fails when the old version is still running after the hand-over', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'gw-root-'));
    const p = await agentProcess(root, '0.1.0');
    const resumed = await p.operation.resume!(jobRun('job-x', doc(), { stage: 'installed', version: '0.2.0' }));
    expect(resumed).toMatchObject({ status: 'FAILED', details: { reason: 'version 0.1.0 is running after the install of 0.2.0: the new version did not take over' } });
  });

  it('fails an execution interrupted before the install without touching anything', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'gw-root-'));
    const p = await agentProcess(root, '0.1.0');
    const resumed = await p.operation.resume!(jobRun('job-z', doc(), { stage: 'downloading', version: '0.2.0' }));
    expect(resumed.status).toBe('FAILED');
    expect(resumed.details['reason']).toMatch(/restarted before the install \(stage downloading\): nothing was installed/);
    untouched(root);
  });

  it('rejects an invalid document naming the field', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'gw-root-'));
    const p = await agentProcess(root, '0.1.0');
    const outcome = await p.operation.run(jobRun('job-y', { ...doc(), version: 'latest' }));
    expect(outcome.status).toBe('REJECTED');
    expect(outcome.details['reason']).toMatch(/version must be a semantic version/);
  });
});
