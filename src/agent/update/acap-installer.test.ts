/**
 * cloudcam.update on a camera, against the camera simulator's Application API (upload.cgi): the
 * verified package replaces the app; a package that fails verification never reaches the camera;
 * a rollback uploads the kept previous package. That the camera then restarts the app, and what
 * AXIS OS does to the process that is uploading itself, only a real camera can show (docs/update.md).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobRun, makeReleaseKey, servePackages, updateDocument, type PackageServer, type ReleaseKey } from '../../../test/helpers/update-kit.js';
import { startCameraSimulator, type CameraSimulator } from '../../devcloud/camera/simulator.js';
import { buildEap } from '../../protocol/eap.js';
import { loadReleaseKeys } from '../../protocol/release-signature.js';
import { VapixClient } from '../../protocol/vapix/client.js';
import { createAcapInstaller, keptPackage } from './acap-installer.js';
import { createUpdateOperation } from './operation.js';
import { UpdateRecords } from './records.js';
import { startUpdateWatch } from './rollback-watch.js';

const log = pino({ level: 'silent' });

describe('cloudcam.update on a camera (upload.cgi)', () => {
  let cam: CameraSimulator;
  let server: PackageServer;
  let key: ReleaseKey;
  const eaps: Record<string, string> = {};
  beforeAll(async () => {
    cam = await startCameraSimulator({ name: 'acap-cam', username: 'root', password: 'pass', identity: { architecture: 'aarch64' } });
    key = makeReleaseKey();
    const dir = mkdtempSync(path.join(tmpdir(), 'eaps-'));
    for (const version of ['0.1.0', '0.2.0']) {
      eaps[version] = path.join(dir, `cloudcam_${version}_aarch64.eap`);
      writeFileSync(eaps[version], buildEap({ appName: 'cloudcam', version, architecture: 'aarch64' }));
    }
    server = await servePackages({ '0.2.0.eap': eaps['0.2.0']! });
  });
  afterAll(async () => {
    await server.close();
    await cam.stop();
  });

  async function appProcess(updateDir: string, runningVersion: string, selfCheck?: string) {
    const camera = new VapixClient({ baseUrl: cam.url, username: 'root', password: 'pass', timeoutMs: 5000 });
    const records = new UpdateRecords(updateDir);
    const installer = createAcapInstaller({ camera, updateDir });
    const watch = await startUpdateWatch({ records, installer, runningVersion, restart: () => undefined, log });
    const operation = createUpdateOperation({
      runningVersion,
      architecture: 'aarch64',
      keys: loadReleaseKeys(key.dir),
      installer,
      records,
      watch,
      policy: { allowedHosts: [server.host], insecureHttpHosts: [server.host] },
      maxPackageBytes: 10 * 1024 * 1024,
      downloadTimeoutMs: 10_000,
      connectBoundMs: 600_000,
      maxStarts: 3,
      selfCheck: () => Promise.resolve(selfCheck),
      restart: () => undefined,
      log,
    });
    return { operation, watch, records };
  }

  const doc = (over: Partial<Parameters<typeof updateDocument>[0]> = {}): Record<string, unknown> =>
    updateDocument({ file: eaps['0.2.0']!, url: server.url('0.2.0.eap'), version: '0.2.0', architecture: 'aarch64', key, ...over });

  it('a package with a wrong signature never reaches the camera', async () => {
    cam.apps.upload(readFileSync(eaps['0.1.0']!));
    const updateDir = mkdtempSync(path.join(tmpdir(), 'acap-update-'));
    const p = await appProcess(updateDir, '0.1.0');
    const outcome = await p.operation.run(jobRun('job-forged', doc({ signAs: { sha256: '00'.repeat(32) } })));
    expect(outcome.status).toBe('FAILED');
    expect(cam.apps.get('cloudcam')?.manifest.version).toBe('0.1.0');
  });

  it('uploads the verified package through upload.cgi, keeps it for a later rollback, and the new version confirms itself', async () => {
    cam.apps.upload(readFileSync(eaps['0.1.0']!));
    const updateDir = mkdtempSync(path.join(tmpdir(), 'acap-update-'));
    const old = await appProcess(updateDir, '0.1.0');
    const outcome = await old.operation.run(jobRun('job-acap', doc()));
    expect(outcome).toMatchObject({ status: 'HANDED_OVER', details: { stage: 'installed', layout: 'acap', version: '0.2.0' } });
    expect(cam.apps.get('cloudcam')?.manifest.version).toBe('0.2.0');
    // The camera restarts the app: the next process is the new version.
    const fresh = await appProcess(updateDir, '0.2.0');
    expect(await fresh.records.starts()).toBe(1);
    expect(await fresh.operation.resume!(jobRun('job-acap', doc(), outcome.details))).toMatchObject({ status: 'SUCCEEDED' });
    expect(readFileSync(keptPackage(updateDir, '0.2.0')).length).toBeGreaterThan(0);
  });

  it('a failing self-check with no previous package kept ends FAILED and says why it stays', async () => {
    cam.apps.upload(readFileSync(eaps['0.1.0']!));
    const updateDir = mkdtempSync(path.join(tmpdir(), 'acap-update-'));
    const old = await appProcess(updateDir, '0.1.0');
    const outcome = await old.operation.run(jobRun('job-sick', doc()));
    const sick = await appProcess(updateDir, '0.2.0', 'the shadow service did not answer a get');
    const resumed = await sick.operation.resume!(jobRun('job-sick', doc(), outcome.details));
    expect(resumed.status).toBe('FAILED');
    expect(resumed.details['reason']).toMatch(/self-check failed .* cannot be rolled back: no previous package is kept on this camera/);
  });

  it('rolls back a crash-looping update by uploading the kept previous package', async () => {
    cam.apps.upload(readFileSync(eaps['0.1.0']!));
    const updateDir = mkdtempSync(path.join(tmpdir(), 'acap-update-'));
    // 0.1.0 came by an earlier update: its package is kept.
    mkdirSync(path.join(updateDir, 'packages'), { recursive: true });
    copyFileSync(eaps['0.1.0']!, keptPackage(updateDir, '0.1.0'));
    const old = await appProcess(updateDir, '0.1.0');
    const outcome = await old.operation.run(jobRun('job-loop', doc()));
    expect(outcome.status).toBe('HANDED_OVER');
    // The new version dies after starting, three times; the fourth start rolls back.
    for (let i = 0; i < 3; i++) (await appProcess(updateDir, '0.2.0')).watch.stop();
    const fourth = await appProcess(updateDir, '0.2.0');
    // The fourth start's rollback is already under way: awaiting it (the same promise) waits for its
    // record too, which the next process reads; polling the camera alone raced that write.
    expect(await fourth.watch.rollback('(already rolling back)')).toEqual({ ok: true });
    expect(cam.apps.get('cloudcam')?.manifest.version).toBe('0.1.0');
    fourth.watch.stop();
    const back = await appProcess(updateDir, '0.1.0');
    const resumed = await back.operation.resume!(jobRun('job-loop', doc(), outcome.details));
    expect(resumed.status).toBe('FAILED');
    expect(resumed.details['reason']).toMatch(/started 4 times without confirming itself \(crash loop\)/);
  });
});
