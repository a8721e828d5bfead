/**
 * Keyless VAPIX: the agent gets its credentials from the camera over D-Bus (a real dbus-daemon with
 * the com.axis.HTTPConf1 stand-in), calls the camera's local virtual host with them, and asks again
 * when they are refused; without D-Bus it uses the configured account; with neither it keeps running
 * and reports the snapshot failed with the fix.
 */
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nextCloudRequest, requestSnapshot, startTestAgent, startTestDevcloud, waitForReport, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import type { AgentConfig } from '../../src/agent/config/index.js';
import type { SnapshotReport } from '../../src/protocol/snapshot.js';
import { dbusDaemonAvailable } from '../../src/devcloud/camera/service-accounts.js';
import { requestServiceAccountCredentials } from '../../src/protocol/vapix/service-account.js';
import { VapixClient } from '../../src/protocol/vapix/client.js';
import type { AgentStatus } from '../../src/agent/features/local-api.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { pino } from 'pino';
import { startCameraSimulator } from '../../src/devcloud/camera/simulator.js';
import { startServiceAccountBus } from '../../src/devcloud/camera/service-accounts.js';
import { chooseCameraAccess } from '../../src/agent/camera-access.js';

const thing = 'camera-1';
const HAS_DBUS = dbusDaemonAvailable();

describe.skipIf(!HAS_DBUS)('keyless VAPIX through the D-Bus service account', () => {
  let t: TestDevcloud;
  let a: TestAgent | undefined;
  const savedBus = process.env['DBUS_SYSTEM_BUS_ADDRESS'];

  beforeAll(async () => {
    t = await startTestDevcloud({ broker: 'aedes', serviceAccounts: true });
  });
  afterEach(async () => {
    await a?.stop();
    a = undefined;
    if (savedBus === undefined) delete process.env['DBUS_SYSTEM_BUS_ADDRESS'];
    else process.env['DBUS_SYSTEM_BUS_ADDRESS'] = savedBus;
  });
  afterAll(async () => {
    await t.cleanup();
  });

  const sa = () => {
    const c = t.dc.info.cameras[thing]!.serviceAccount;
    if (!c) throw new Error('devcloud started without service accounts');
    return c;
  };
  const accessLines = (x: TestAgent) => x.logs.filter((l) => l['event'] === 'camera.access');
  /**
   * Starts the agent with DBUS_SYSTEM_BUS_ADDRESS = bus and resolves with the report of the request
   * the cloud makes when it comes online (one request, no race with a second one).
   */
  const startAndReport = async (bus: string, configure: (c: AgentConfig) => void = () => undefined): Promise<SnapshotReport> => {
    process.env['DBUS_SYSTEM_BUS_ADDRESS'] = bus;
    const online = nextCloudRequest(t.dc, thing);
    a = await startTestAgent(t.dc, thing, configure);
    const request = await online;
    return waitForReport(t.dc, thing, request.id);
  };
  const keyless = (c: AgentConfig): void => {
    c.camera.username = '';
    c.camera.password = '';
    c.camera.serviceAccountUrl = sa().url;
  };
  const noBus = (): string => `unix:path=${path.join(os.tmpdir(), `cloudcam-no-bus-${process.pid}`)}`;
  const status = async (x: TestAgent): Promise<AgentStatus> => (await fetch(`${x.agent.localApiUrl()}/status`)).json() as Promise<AgentStatus>;

  it('the stand-in issues fresh credentials per call, valid on the local virtual host only', async () => {
    const first = await requestServiceAccountCredentials('cloudcam', { busAddress: sa().busAddress });
    const second = await requestServiceAccountCredentials('cloudcam', { busAddress: sa().busAddress });
    expect(second.password).not.toBe(first.password);
    const local = new VapixClient({ baseUrl: sa().url, ...second, timeoutMs: 5000 });
    expect((await local.basicDeviceInfo())['SerialNumber']).toBe(t.dc.cameras.get(thing)!.identity.serialNumber);
    const main = new VapixClient({ baseUrl: t.dc.info.cameras[thing]!.httpUrl, ...second, timeoutMs: 5000 });
    await expect(main.basicDeviceInfo()).rejects.toMatchObject({ kind: 'auth' });
    const stale = new VapixClient({ baseUrl: sa().url, ...first, timeoutMs: 5000 });
    await expect(stale.basicDeviceInfo()).rejects.toMatchObject({ kind: 'auth' });
  });

  it('takes a full snapshot with no camera password configured, and says so once', async () => {
    const report = await startAndReport(sa().busAddress, keyless);
    expect(report.status).toBe('uploaded');
    expect(accessLines(a!)).toEqual([expect.objectContaining({ access: 'service-account', url: sa().url })]);
    expect((await status(a!)).vapixAccess).toBe('service-account');
  });

  it('asks D-Bus again when the camera refuses rotated credentials (401), and the snapshot succeeds', async () => {
    // Every password the stand-in hands out, to prove none reaches a log line.
    const accountsForLog = t.dc.cameras.get(thing)!.serviceAccounts!;
    const issue = accountsForLog.issue.bind(accountsForLog);
    const handedOut: string[] = [];
    accountsForLog.issue = (name) => {
      const c = issue(name);
      handedOut.push(c.password);
      return c;
    };
    expect((await startAndReport(sa().busAddress, keyless)).status).toBe('uploaded');
    const accounts = t.dc.cameras.get(thing)!.serviceAccounts!;
    const before = accounts.issued;
    accounts.revokeAll();
    const second = await requestSnapshot(t.dc, thing);
    const report = await waitForReport(t.dc, thing, second.id);
    expect(report.error).toBeUndefined();
    expect(report.status).toBe('uploaded');
    expect(accounts.issued).toBe(before + 1);
    expect(handedOut).toHaveLength(2);
    const logged = JSON.stringify(a!.logs);
    for (const password of handedOut) expect(logged).not.toContain(password);
  });

  it('without D-Bus uses the configured account, logged once', async () => {
    expect((await startAndReport(noBus())).status).toBe('uploaded');
    const lines = accessLines(a!);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ access: 'configured', url: t.dc.info.cameras[thing]!.httpUrl });
    expect(String(lines[0]!['why'])).toContain('no D-Bus system bus');
    expect((await status(a!)).vapixAccess).toBe('configured');
  });

  it('with no credentials anywhere keeps running and reports the snapshot failed with the fix', async () => {
    const report = await startAndReport(noBus(), (c) => {
      c.camera.username = '';
      c.camera.password = '';
    });
    expect(report.status).toBe('failed');
    expect(report.error).toMatch(/no VAPIX credentials/);
    expect(report.error).toMatch(/AXIS OS 11\.9/);
    expect(report.error).toMatch(/camera\.username and camera\.password/);
    // Still serving: connected, and its local API answers.
    expect(a!.agent.connection.connected).toBe(true);
    expect((await status(a!)).connected).toBe(true);
  });
});

describe.skipIf(!HAS_DBUS)('a camera whose local virtual host offers Basic only (as Axis\'s example calls it)', () => {
  it('answers with Basic for the service account on loopback, renews on 401, and never sends a configured password that way', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-sa-basic-'));
    const camera = await startCameraSimulator({ name: 'basic-cam', username: 'root', password: 'pw', serviceAccountHost: '127.0.0.12', serviceAccountAuth: 'basic' });
    const accounts = camera.serviceAccounts!;
    const bus = await startServiceAccountBus({ dir, issue: (name) => accounts.issue(name) });
    try {
      const log = pino({ level: 'silent' });
      const camSettings = { url: camera.url, username: '', password: '', timeoutMs: 5000, access: 'auto' as const, serviceAccountUrl: accounts.url };
      const access = await chooseCameraAccess(camSettings, { log, env: { DBUS_SYSTEM_BUS_ADDRESS: bus.address } });
      expect(access.access).toBe('service-account');
      const client = new VapixClient({ baseUrl: access.baseUrl, credentials: access.credentials, timeoutMs: 5000 });
      expect((await client.basicDeviceInfo())['SerialNumber']).toBe(camera.identity.serialNumber);
      accounts.revokeAll();
      expect((await client.basicDeviceInfo())['SerialNumber']).toBe(camera.identity.serialNumber);
      expect(bus.calls).toBe(2);
      // A configured account is not sent in Basic, even to loopback: the camera must offer Digest.
      const configured = new VapixClient({ baseUrl: accounts.url, username: 'root', password: 'pw', timeoutMs: 5000 });
      await expect(configured.basicDeviceInfo()).rejects.toThrow(/offers only Basic authentication, which over plain HTTP would send the password readable.*nothing was sent/);
    } finally {
      await bus.stop();
      await camera.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
