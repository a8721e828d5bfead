/**
 * test-package's live check: the packaged agent, running under qemu, serves a live session — the
 * cloud asks it to go live, a viewer in chromium (native RTCPeerConnection + WebSocket, live-viewer.ts)
 * decodes at least one frame, and the agent reports the viewer and stops after the viewer left.
 *
 * The camera account live view opens RTSP with comes the way it does in the field: the keyless
 * run's service account is valid on the local virtual host only, not on the camera's RTSP server
 * (Axis's ACAP page; AxisCommunications/acap-documentation#113 reports 401 even over
 * RTSP-over-WebSocket), and devcloud's camera refuses it there as a camera would. So the check runs
 * `cloudcam setup live` against the simulated camera, as a technician does: it creates the
 * viewer-group account (pwdgrp.cgi), stores it in the app's parameters (param.cgi) and restarts the
 * app (control.cgi), which restarts the packaged process (app-supervisor.ts, systemd's part). The
 * agent must then read the account from its app parameters itself: a package that cannot (a
 * manifest without the parameters, an agent that does not read them) gets 401 and fails the check.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { DevcloudInfo } from '../devcloud/info.js';
import type { FieldIo } from '../cli/field-io.js';
import { AppSupervisor, type SupervisedRun } from './app-supervisor.js';
import { goLive, openLiveBrowser, viewerTarget, type LiveBrowser } from './live-viewer.js';

/** Under qemu the agent loads werift and answers slowly: generous, but bounded. */
const FIRST_FRAME_TIMEOUT_MS = 90_000;
const CONNECT_TIMEOUT_MS = 120_000;
/** live.idleSeconds for this run: long enough for the viewer's offer to arrive under emulation. */
const IDLE_SECONDS = 15;

export interface LiveCheck {
  /** Live asked → first frame presented in chromium (ms). */
  firstFrameMs: number;
  frames: number;
  size: string;
}

/** One chromium for every package of the run (starting it is the slow part on this side). */
export class PackageLiveViewer {
  private browser: Promise<LiveBrowser> | undefined;

  constructor(private readonly info: DevcloudInfo) {}

  /** Throws with the reason when no frame reached the viewer. */
  async check(thing: string, label: string): Promise<LiveCheck> {
    this.browser ??= openLiveBrowser(this.info);
    const browser = await this.browser;
    const t0 = Date.now();
    const target = await viewerTarget(this.info, thing);
    await goLive(this.info, thing);
    const r = await browser.watch(target, 5, FIRST_FRAME_TIMEOUT_MS);
    await browser.stopAll();
    if (r.firstFrameAt === undefined) throw new Error(`${label}: no live frame reached the viewer: ${r.error ?? 'none decoded'}`);
    return { firstFrameMs: r.firstFrameAt - t0, frames: r.frames, size: `${r.width}x${r.height}` };
  }

  async close(): Promise<void> {
    if (this.browser) await (await this.browser).close();
  }
}

export interface PackageLiveResult extends LiveCheck {
  /** `cloudcam setup live` started (account, parameters, control.cgi restart) → the restarted agent's MQTT connection (ms). */
  restartMs: number;
}

/**
 * Installs the unpacked package on the simulated camera (its manifest: the app and its parameters),
 * runs its launcher (already pointed at qemu) keyless as the first run did, runs `cloudcam setup live`
 * against the camera, follows the camera's restart of the app, then asks for live: a decoded frame,
 * the agent's viewer-joined and, after the viewer left, live-stopped; then SIGTERM and exit 0.
 */
export async function checkPackageLive(opts: {
  launcher: string;
  appDir: string;
  appName: string;
  env: NodeJS.ProcessEnv;
  dc: DevcloudInfo;
  thing: string;
  viewer: PackageLiveViewer;
  label: string;
}): Promise<PackageLiveResult> {
  const { dc, thing, label, appName } = opts;
  const sitePath = path.join(opts.appDir, 'localdata', 'cloudcam.json');
  const site = JSON.parse(fs.readFileSync(sitePath, 'utf8')) as Record<string, unknown>;
  site['live'] = { ...(site['live'] as Record<string, unknown>), idleSeconds: IDLE_SECONDS };
  fs.writeFileSync(sitePath, JSON.stringify(site, null, 2), { mode: 0o600 });
  await installOnCamera(dc, thing, path.join(opts.appDir, 'manifest.json'), label);

  const supervisor = new AppSupervisor({ launcher: opts.launcher, env: opts.env, controlUrl: dc.control.url, thing, appName });
  try {
    const first = await supervisor.start();
    await first.events.wait('MQTT connection', (e) => e['msg'] === 'MQTT connected', CONNECT_TIMEOUT_MS, first.proc);
    const restartAsked = Date.now();
    await runSetupLive(dc, thing, appName, label);
    const run = await supervisor.nextRun(first, 30_000);
    if (first.stopCode !== 0) throw new Error(`${label}: the agent exited with ${first.stopCode} when the camera restarted it, expected 0`);
    await run.events.wait('MQTT connection after the restart', (e) => e['msg'] === 'MQTT connected', CONNECT_TIMEOUT_MS, run.proc);
    const restartMs = Date.now() - restartAsked;
    checkReadAccount(run, appName, label);
    const live = await opts.viewer.check(thing, label).catch((err: unknown) => {
      const refused = run.events.events.find((e) => e['event'] === 'live.rtsp-refused');
      throw refused ? new Error(`${label}: ${String(refused['msg'])}`) : err;
    });
    await run.events.wait('live.viewer-joined', (e) => e['event'] === 'live.viewer-joined', 10_000, run.proc);
    await run.events.wait('live.stopped after the viewer left', (e) => e['event'] === 'live.stopped', (IDLE_SECONDS + 30) * 1000, run.proc);
    const code = await supervisor.stop();
    if (code !== 0) throw new Error(`${label}: the agent exited with ${code} on SIGTERM after live view, expected 0`);
    return { ...live, restartMs };
  } finally {
    supervisor.kill();
  }
}

/** The package as AXIS OS records it once unpacked: devcloud's camera learns the app and its paramConfig. */
async function installOnCamera(dc: DevcloudInfo, thing: string, manifestPath: string, label: string): Promise<void> {
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as unknown;
  const res = await fetch(`${dc.control.url}/cameras/${thing}/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ manifest }) });
  if (res.status !== 204) throw new Error(`${label}: devcloud's camera did not take the package's manifest: ${res.status} ${await res.text()}`);
}

/** What a technician runs: `cloudcam camera add` (HTTPS, the certificate pinned) and `cloudcam setup live`. */
async function runSetupLive(dc: DevcloudInfo, thing: string, appName: string, label: string): Promise<void> {
  const camera = dc.cameras[thing];
  if (!camera) throw new Error(`${label}: devcloud.json has no camera ${thing}`);
  const { cameraAdd } = await import('../cli/camera-command.js');
  const { setupLiveCli } = await import('../cli/setup-command.js');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cloudcam-field-'));
  try {
    const add = fieldIo(home, camera.password);
    if ((await cameraAdd([camera.url, '--user', camera.username, '--password-stdin', '--fingerprint', camera.fingerprint256], add.io)) !== 0) {
      throw new Error(`${label}: cloudcam camera add failed:\n${add.output()}`);
    }
    const setup = fieldIo(home);
    const code = await setupLiveCli(['--camera', camera.url, '--app', appName, '--rtsp-port', String(camera.rtspPort)], setup.io);
    if (code !== 0 || !/restarted/.test(setup.output())) throw new Error(`${label}: cloudcam setup live did not create the account and restart the app (exit ${code}):\n${setup.output()}`);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

/** The restarted agent says it read the account from its parameters (config.source), before anyone watches. */
function checkReadAccount(run: SupervisedRun, appName: string, label: string): void {
  const note = run.events.events.find((e) => e['event'] === 'config.source' && String(e['msg']).startsWith(`app parameters root.${appName}`));
  const msg = typeof note?.['msg'] === 'string' ? note['msg'] : 'no line about its app parameters';
  if (!/live\.rtspUsername/.test(msg) || !/live\.rtspPassword/.test(msg)) throw new Error(`${label}: after \`cloudcam setup live\` the agent did not read the live account from its app parameters: ${msg}`);
}

function fieldIo(configHome: string, input = ''): { io: FieldIo; output(): string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString('utf8')));
  return { io: { out, err: out, input: Readable.from([Buffer.from(input)]), env: { XDG_CONFIG_HOME: configHome } }, output: () => text };
}
