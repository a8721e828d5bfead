/**
 * Live view on an ACAP-style agent (VAPIX through the D-Bus service account) against devcloud. The
 * camera refuses service-account credentials on RTSP, as Axis's does (AxisCommunications/
 * acap-documentation#113: runtime credentials get 401 on RTSP; acap3-examples#73: apps that need RTSP
 * must use a camera account), so live view fails with the fix named; `cloudcam setup live` makes the
 * viewer-only account through VAPIX pwdgrp.cgi (developer.axis.com/vapix/network-video/system-settings:
 * admin only, action=add|update, grp=users, sgrp=viewer) and stores it in the app parameters, after
 * which a werift viewer gets frames. Its password never reaches a log, the shadow, /status or signalling.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { manifestParamConfig, readAppParams } from '../../src/agent/app-params.js';
import type { AgentConfig } from '../../src/agent/config/index.js';
import { cameraAdd } from '../../src/cli/camera-command.js';
import { install } from '../../src/cli/install-command.js';
import { buildEap } from '../../src/protocol/eap.js';
import { setupCheckCli, setupLiveCli } from '../../src/cli/setup-command.js';
import { dbusDaemonAvailable } from '../../src/devcloud/camera/service-accounts.js';
import type { CameraSimulator } from '../../src/devcloud/camera/simulator.js';
import { openRtspStream } from '../../src/protocol/rtsp/session.js';
import { VapixClient } from '../../src/protocol/vapix/client.js';
import { startTestAgent, startTestDevcloud, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import { addArgs, fieldIo } from '../helpers/field.js';
import { connectViewer, ensureChannel, requestLive, waitForLiveReport, type TestViewer } from '../helpers/live-viewer.js';

const thing = 'camera-1';
const HAS_DBUS = dbusDaemonAvailable();

describe.skipIf(!HAS_DBUS)('live view on an ACAP camera: the RTSP account made by `cloudcam setup live`', () => {
  let t: TestDevcloud;
  let camera: CameraSimulator;
  let home: string;
  let a: TestAgent | undefined;
  const viewers: TestViewer[] = [];
  const savedBus = process.env['DBUS_SYSTEM_BUS_ADDRESS'];
  /** Everything the agents logged, over every start. */
  const allLogs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    t = await startTestDevcloud({ broker: 'aedes', serviceAccounts: true });
    camera = t.dc.cameras.get(thing)!;
    // The installed package's paramConfig, as AXIS OS defines it at installation.
    camera.defineAppParams('cloudcam', manifestParamConfig());
    await ensureChannel(t.dc, thing);
    home = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-live-account-'));
    expect(await cameraAdd(addArgs(camera), fieldIo(home, camera.password))).toBe(0);
    const eap = path.join(home, 'cloudcam.eap');
    await writeFile(eap, buildEap({ appName: 'cloudcam', version: '0.1.0', architecture: camera.identity.architecture, apiPath: 'api' }));
    expect(await install([eap], fieldIo(home))).toBe(0);
  });
  afterEach(async () => {
    for (const v of viewers.splice(0)) await v.close().catch(() => undefined);
    if (a) allLogs.push(...a.logs);
    await a?.stop();
    a = undefined;
  });
  afterAll(async () => {
    if (savedBus === undefined) delete process.env['DBUS_SYSTEM_BUS_ADDRESS'];
    else process.env['DBUS_SYSTEM_BUS_ADDRESS'] = savedBus;
    await t?.cleanup();
    await rm(home, { recursive: true, force: true });
  });

  /** The agent as the package starts it on a camera: service-account VAPIX, settings from the app parameters. */
  const startAcapAgent = async (): Promise<TestAgent> => {
    const sa = t.dc.info.cameras[thing]!.serviceAccount!;
    process.env['DBUS_SYSTEM_BUS_ADDRESS'] = sa.busAddress;
    const admin = new VapixClient({ baseUrl: camera.httpUrl, username: camera.username, password: camera.password, timeoutMs: 5000 });
    const fromParams = (await readAppParams(admin, 'cloudcam')).config as { live?: Partial<AgentConfig['live']> };
    a = await startTestAgent(t.dc, thing, (c) => {
      c.camera.access = 'service-account';
      c.camera.username = '';
      c.camera.password = '';
      c.camera.serviceAccountUrl = sa.url;
      c.live.idleSeconds = 2;
      Object.assign(c.live, fromParams.live ?? {});
    });
    await waitForLiveReport(t.dc, thing, (r) => r.state === 'off');
    return a;
  };
  const setupLive = async (): Promise<{ code: number; text: string }> => {
    const io = fieldIo(home);
    const code = await setupLiveCli(['--rtsp-port', String(camera.rtsp.port)], io);
    return { code, text: io.stdout() + io.stderr() };
  };
  const livePassword = (): string => camera.param('cloudcam.LiveRtspPassword') ?? '';

  it('without a live account: the camera refuses the service account on RTSP, and the shadow and the log name `cloudcam setup live`', async () => {
    const agent = await startAcapAgent();
    await requestLive(t.dc, thing);
    await waitForLiveReport(t.dc, thing, (r) => r.state === 'on');
    const viewer = await connectViewer(t.dc, thing, 'viewer-refused');
    viewers.push(viewer);
    const refused = await agent.waitForLog((l) => l['event'] === 'live.rtsp-refused');
    expect(String(refused['msg'])).toContain('cloudcam setup live');
    expect(String(refused['msg'])).toContain('acap-documentation#113');
    const report = await waitForLiveReport(t.dc, thing, (r) => (r.error ?? '').includes('cloudcam setup live'));
    expect(report.error).toMatch(/refused the RTSP credentials of user "a0-cloudcam"/);
    expect(camera.rtsp.sessions).toBe(0);
  });

  it('`setup check` says live view has no RTSP account', async () => {
    const io = fieldIo(home);
    expect(await setupCheckCli(['--rtsp-port', String(camera.rtsp.port)], io)).toBe(1);
    expect(io.stdout()).toMatch(/✗ live account\s+live view has no RTSP account/);
  });

  it('after `cloudcam setup live` a viewer gets frames, over an account in the viewer group only', async () => {
    const made = await setupLive();
    expect(made.code).toBe(0);
    expect(made.text).toContain('created viewer account cloudcamlive');
    expect(made.text).toMatch(/✓ cloudcamlive opens the camera's RTSP stream/);
    expect(made.text).toContain('✓ restarted cloudcam so that the agent reads the account');
    expect(camera.accountRole('cloudcamlive')).toBe('viewer');
    expect(camera.param('cloudcam.LiveRtspUsername')).toBe('cloudcamlive');
    expect(livePassword()).toMatch(/^[A-Za-z0-9_-]{32}$/);

    const agent = await startAcapAgent();
    await requestLive(t.dc, thing);
    await waitForLiveReport(t.dc, thing, (r) => r.state === 'on');
    const viewer = await connectViewer(t.dc, thing, 'viewer-sees');
    viewers.push(viewer);
    await viewer.answer();
    await viewer.frames(10);
    expect(agent.logs.some((l) => l['event'] === 'live.rtsp-account' && l['source'] === 'live-account')).toBe(true);
    const live = await waitForLiveReport(t.dc, thing, (r) => r.viewers === 1);
    expect(live.error).toBeUndefined();

    // The password is nowhere the operator, the cloud or a viewer can read.
    const password = livePassword();
    const status = await (await fetch(`${agent.agent.localApiUrl()}/status`)).text();
    const shadow = JSON.stringify(t.dc.store.get({ thing, shadow: t.dc.info.shadowName }));
    for (const [where, text] of [['agent log', JSON.stringify([...allLogs, ...agent.logs])], ['/status', status], ['shadow', shadow], ['signalling', viewer.received.join('\n')], ['setup live output', made.text]] as const) {
      expect(text, where).not.toContain(password);
    }
  });

  it('running it again rotates the password: the old one is refused on RTSP, the new one works, the account stays viewer-only', async () => {
    const before = livePassword();
    const again = await setupLive();
    expect(again.code).toBe(0);
    expect(again.text).toContain('new password for viewer account cloudcamlive');
    const after = livePassword();
    expect(after).not.toBe(before);
    expect(camera.accountRole('cloudcamlive')).toBe('viewer');
    const open = (password: string) => openRtspStream({ url: camera.rtsp.url, credentials: { current: () => Promise.resolve({ username: 'cloudcamlive', password }) }, timeoutMs: 5000, onRtp: () => undefined });
    await expect(open(before)).rejects.toMatchObject({ kind: 'auth', refusedUser: 'cloudcamlive' });
    const stream = await open(after);
    await stream.close();
    const io = fieldIo(home);
    await setupCheckCli(['--rtsp-port', String(camera.rtsp.port)], io);
    expect(io.stdout()).toMatch(/✓ live account\s+cloudcamlive opens the camera's RTSP stream/);
  });

  it('pwdgrp.cgi refuses anyone but an administrator (401, as Apache answers an authorization failure)', async () => {
    const asViewer = new VapixClient({ baseUrl: camera.httpUrl, username: 'cloudcamlive', password: livePassword(), timeoutMs: 5000 });
    await expect(asViewer.call200('POST', '/axis-cgi/pwdgrp.cgi', { body: 'action=add&user=evil&pwd=evil1234&grp=users&sgrp=viewer:operator:admin', contentType: 'application/x-www-form-urlencoded' })).rejects.toMatchObject({ kind: 'auth' });
    expect(camera.accountRole('evil')).toBeUndefined();
    // The same account may watch: it is a camera account, just not an administrator.
    const stream = await openRtspStream({ url: camera.rtsp.url, credentials: { current: () => Promise.resolve({ username: 'cloudcamlive', password: livePassword() }) }, timeoutMs: 5000, onRtp: () => undefined });
    await stream.close();
  });
});
