import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cameraAdd } from '../../src/cli/camera-command.js';
import { install } from '../../src/cli/install-command.js';
import { setupCheckCli, setupNtpCli } from '../../src/cli/setup-command.js';
import { CameraStore, defaultStorePath } from '../../src/field/camera-store.js';
import { buildEap } from '../../src/protocol/eap.js';
import { issueCertificate, loadCa, writeCertificate } from '../../src/devcloud/pki.js';
import type { CameraSimulator } from '../../src/devcloud/camera/simulator.js';
import { startTestAgent, startTestDevcloud, waitForConnected, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import { addArgs, fieldIo } from '../helpers/field.js';

describe('cloudcam setup check: a devcloud camera with the real agent behind the reverse proxy', () => {
  let tdc: TestDevcloud;
  let camera: CameraSimulator;
  let home: string;
  let agent: TestAgent | undefined;

  beforeAll(async () => {
    tdc = await startTestDevcloud({ broker: 'aedes' });
    camera = tdc.dc.cameras.get('camera-1')!;
    home = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-check-'));
    await cameraAdd(addArgs(camera), fieldIo(home, camera.password));
    const eap = path.join(home, 'cloudcam.eap');
    await writeFile(eap, buildEap({ appName: 'cloudcam', version: '0.1.0', architecture: camera.identity.architecture, apiPath: 'api' }));
    expect(await install([eap], fieldIo(home))).toBe(0);
    expect(await setupNtpCli(['--server', 'pool.ntp.org'], fieldIo(home))).toBe(0);
  });
  afterAll(async () => {
    await agent?.stop();
    await tdc.cleanup();
    await rm(home, { recursive: true, force: true });
  });

  const check = async (args: string[] = []) => {
    const io = fieldIo(home);
    const code = await setupCheckCli(args, io);
    return { code, text: io.stdout() };
  };

  it('passes every line when the agent runs and is connected', async () => {
    agent = await startTestAgent(tdc.dc, 'camera-1');
    await waitForConnected(agent);
    camera.setAppTarget('cloudcam', agent.agent.localApiUrl());
    const { code, text } = await check(['--version', '0.1.0']);
    expect(text).toMatch(/✓ reachable/);
    // devcloud's default profile is AXIS OS 12: Basic over the pinned HTTPS (developer.axis.com/vapix/authentication).
    expect(text).toMatch(/✓ credentials +accepted; authentication Basic over HTTPS/);
    expect(text).toMatch(/✓ clock/);
    expect(text).toMatch(/✓ NTP +on, servers pool.ntp.org, synced/);
    expect(text).toMatch(/✓ app +cloudcam 0.1.0 running/);
    expect(text).toMatch(/✓ certificates +CN=camera-1/);
    expect(text).toMatch(/✓ agent connected +camera-1 connected since/);
    // No D-Bus service account on this machine: the agent says it uses the configured account.
    expect(text).toMatch(/✓ VAPIX access +configured account/);
    expect(code).toBe(0);
  });

  it('flags a clock an hour off and a version mismatch, each with its fix', async () => {
    camera.setClockOffset(-3600_000);
    try {
      const { code, text } = await check(['--version', '0.2.0']);
      expect(code).toBe(1);
      expect(text).toMatch(/✗ clock +camera clock is 60\.0 min behind/);
      expect(text).toMatch(/fix: run `cloudcam setup ntp/);
      expect(text).toMatch(/✗ app +cloudcam 0.1.0 running \(expected 0.2.0\)/);
    } finally {
      camera.setClockOffset(0);
    }
  });

  it('reports an expired device certificate and an agent that cannot connect with it', async () => {
    await agent?.stop();
    const ca = await loadCa(tdc.dc.pki);
    const past = Date.now() - 30 * 86_400_000;
    const expired = await writeCertificate(path.join(home, 'expired'), 'camera-1', await issueCertificate(ca, { commonName: 'camera-1', usage: 'client', notBefore: new Date(past - 86_400_000), notAfter: new Date(past) }));
    agent = await startTestAgent(tdc.dc, 'camera-1', (c) => {
      c.iot.certPath = expired.certPath;
      c.iot.keyPath = expired.keyPath;
    });
    camera.setAppTarget('cloudcam', agent.agent.localApiUrl());
    const { code, text } = await check();
    expect(code).toBe(1);
    expect(text).toMatch(/✗ certificates +CN=camera-1, valid until .* \(expired\)/);
    expect(text).toMatch(/fix: install a new certificate: cloudcam setup certs/);
    expect(text).toMatch(/✗ agent connected +camera-1 not connected/);
  });

  it('names wrong credentials and skips what depends on them', async () => {
    const store = new CameraStore(defaultStorePath({ XDG_CONFIG_HOME: home }));
    const good = await store.find(camera.url);
    await store.put({ ...good, password: 'wrong' });
    try {
      const { code, text } = await check();
      expect(code).toBe(1);
      expect(text).toMatch(/✓ reachable/);
      expect(text).toMatch(/✗ credentials +refused \(HTTP 401\)/);
      expect(text).toMatch(/- clock +skipped/);
      expect(text).not.toMatch(/✓ (clock|app|agent)/);
    } finally {
      await store.put(good);
    }
  });

  it('says the app is missing when it was removed', async () => {
    camera.apps.control('remove', 'cloudcam');
    const { text } = await check();
    expect(text).toMatch(/✗ app +cloudcam is not installed/);
    expect(text).toMatch(/fix: run `cloudcam install`/);
    expect(text).toMatch(/- agent connected +skipped/);
  });
});
