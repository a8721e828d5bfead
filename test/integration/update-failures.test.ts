/**
 * cloudcam.update when it must not succeed, end to end (devcloud Jobs + release bucket, cameras in
 * the gateway layout as real processes under a Restart=always supervisor): a package signed by a
 * key the cameras do not trust, a downgrade, a new version that cannot connect, one that cannot
 * start at all. Each ends FAILED or REJECTED with its reason and the old version runs on.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentBundle, gatewayTarball, releaseScript, startGatewayCamera, type GatewayCamera, mqttConnected, startedAs } from '../helpers/gateway-camera.js';
import { MQTT_MATRIX, startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { runFleetUpdate, type FleetUpdateOptions } from '../../src/fleet/fleet-update.js';
import { devcloudJobsAdmin } from '../../src/cloud/jobs-admin.js';
import type { JobExecutionView } from '../../src/cloud/jobs-admin.js';

const CONNECT_BOUND_MS = 3000;

let work: string;
let bundle100: string;
let bundle110: string;
beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'update-fail-'));
  bundle100 = await agentBundle(work, '1.0.0');
  bundle110 = await agentBundle(work, '1.1.0');
}, 60_000);

describe.each(MQTT_MATRIX)('update failures ($label)', ({ broker }) => {
  let t: TestDevcloud;
  const cams = new Map<string, GatewayCamera>();
  beforeAll(async () => {
    t = await startTestDevcloud({ broker, cameras: 4, jobsMinuteMs: 2000 });
    for (const thing of Object.keys(t.dc.info.devices)) {
      cams.set(thing, await startGatewayCamera({ thing, agentConfigPath: t.dc.info.devices[thing]!.agentConfigPath, baseBundle: bundle100, siteOverrides: { update: { connectBoundMs: CONNECT_BOUND_MS } } }));
    }
    await Promise.all([...cams.values()].map((c) => c.waitFor(mqttConnected, 60_000)));
  }, 120_000);
  afterAll(async () => {
    await Promise.all([...cams.values()].map((c) => c.stop()));
    await t?.cleanup();
  });

  /** Runs `fleet update` for one camera and waits for its execution to end. */
  async function update(thing: string, packageFile: string, over: Partial<FleetUpdateOptions> = {}): Promise<{ code: number; execution: JobExecutionView; out: string[]; ms: number }> {
    const out: string[] = [];
    const t0 = Date.now();
    const code = await runFleetUpdate({ packageFile, things: [thing], all: false, thingPrefix: '', devcloudDir: t.dir, timeoutMinutes: 30, allowDowngrade: false, wait: true, pollMs: 100, version: '1.1.0', architecture: 'x86_64', out: (l) => out.push(l), ...over });
    const ms = Date.now() - t0;
    const jobId = out.find((l) => l.startsWith('job ') && l.includes('created'))!.split(' ')[1]!;
    const d = await (await devcloudJobsAdmin(t.dir)).describeJob(jobId);
    return { code, execution: d.executions.find((e) => e.thingName === thing)!, out, ms };
  }

  it('a package signed by a key the cameras do not trust: FAILED, nothing installed, the old process runs on', async () => {
    const cam = cams.get('camera-1')!;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const key = path.join(work, `devcloud-dev-${broker}.key`);
    writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const r = await update('camera-1', gatewayTarball(work, '1.1.0', bundle110, { name: `forged-${broker}.tar.gz` }), { signingKeyFile: key, keyId: 'devcloud-dev' });
    expect(r.code).toBe(1);
    expect(r.execution.status).toBe('FAILED');
    expect(r.execution.statusDetails?.['reason']).toMatch(/release signature does not match this package/);
    expect(cam.starts).toBe(1);
    expect(cam.current()).toBe('base');
    expect(cam.lines.some((l) => l['event'] === 'test.exited')).toBe(false);
  }, 60_000);

  it('a downgrade is REJECTED unless the document allows it', async () => {
    const pkg = gatewayTarball(work, '0.9.0', bundle100, { name: `old-${broker}.tar.gz` });
    const r = await update('camera-1', pkg, { version: '0.9.0' });
    expect(r.execution.status).toBe('REJECTED');
    expect(r.execution.statusDetails?.['reason']).toMatch(/0.9.0 is older than the running 1.0.0/);
    expect(cams.get('camera-1')!.starts).toBe(1);
  }, 60_000);

  it('a new version that cannot connect is rolled back within the bound and the job ends FAILED with the reason', async () => {
    const cam = cams.get('camera-2')!;
    // The new build is fine but points at a port where no broker listens.
    const pkg = gatewayTarball(work, '1.1.0', bundle110, { name: `noconnect-${broker}.tar.gz`, script: releaseScript('agent.cjs', 'CLOUDCAM_IOT_PORT=1') });
    const from = cam.lines.length;
    const r = await update('camera-2', pkg);
    expect(r.code).toBe(1);
    expect(r.execution.status).toBe('FAILED');
    expect(r.execution.statusDetails?.['reason']).toMatch(/did not connect and pass its self-check within 3 s of its install/);
    const newStart = cam.lines.findIndex((l, i) => i >= from && startedAs('1.1.0')(l));
    const rollback = cam.lines.findIndex((l, i) => i >= from && l['event'] === 'update.rollback');
    expect(newStart).toBeGreaterThan(-1);
    expect(rollback).toBeGreaterThan(newStart);
    const ms = Date.parse(String(cam.lines[rollback]!['time'])) - Date.parse(String(cam.lines[newStart]!['time']));
    expect(ms).toBeLessThan(CONNECT_BOUND_MS + 1500);
    expect(cam.current()).toBe('base');
    await cam.waitFor(startedAs('1.0.0'), 10_000, rollback);
    console.log(`[update-failures ${broker}] cannot connect: rolled back ${ms} ms after the new version started (bound ${CONNECT_BOUND_MS} ms); job FAILED ${(r.ms / 1000).toFixed(1)} s after fleet update`);
  }, 60_000);

  it('a new version that cannot start at all is rolled back by the launcher after maxStarts; FAILED with the reason', async () => {
    const cam = cams.get('camera-3')!;
    const pkg = gatewayTarball(work, '1.1.0', bundle110, { name: `crash-${broker}.tar.gz`, script: '#!/bin/sh\necho "cannot start" >&2\nexit 70\n' });
    const before = cam.starts;
    const r = await update('camera-3', pkg);
    expect(r.execution.status).toBe('FAILED');
    expect(r.execution.statusDetails?.['reason']).toMatch(/exited 3 times without confirming itself \(crash loop\); rolled back by the launcher/);
    // The hand-over start, three crashes, then the launcher's start of the old version.
    expect(cam.starts - before).toBe(4);
    expect(cam.current()).toBe('base');
    console.log(`[update-failures ${broker}] crash loop: job FAILED ${(r.ms / 1000).toFixed(1)} s after fleet update`);
  }, 60_000);
});
