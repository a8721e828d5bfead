/**
 * test-package's live check: the packaged agent, running under qemu, serves a live session — the
 * cloud asks it to go live, a viewer in chromium (native RTCPeerConnection + WebSocket, live-viewer.ts)
 * decodes at least one frame, and the agent reports the viewer and stops after the viewer left.
 *
 * The agent runs a second time for this, with the camera's own account: the keyless run's service
 * account is valid on the local virtual host only, not on the camera's RTSP server (Axis's ACAP
 * page; AxisCommunications/acap-documentation#113 reports 401 even over RTSP-over-WebSocket), and
 * devcloud's camera refuses it there as a camera would.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DevcloudInfo } from '../devcloud/info.js';
import { AgentEvents } from './agent-events.js';
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
  /** Start to MQTT connected, this second run (ms). */
  connectMs: number;
}

/**
 * Runs the unpacked package's launcher (already pointed at qemu) with the camera's account in
 * localdata/cloudcam.json, asks for live, waits for a decoded frame, the agent's viewer-joined and,
 * after the viewer left, live-stopped; then SIGTERM and exit 0.
 */
export async function checkPackageLive(opts: { launcher: string; appDir: string; dc: DevcloudInfo; thing: string; viewer: PackageLiveViewer; label: string }): Promise<PackageLiveResult> {
  const { dc, thing, label } = opts;
  const camera = dc.cameras[thing];
  if (!camera) throw new Error(`${label}: devcloud.json has no camera ${thing}`);
  const sitePath = path.join(opts.appDir, 'localdata', 'cloudcam.json');
  const site = JSON.parse(fs.readFileSync(sitePath, 'utf8')) as Record<string, unknown>;
  site['camera'] = { access: 'configured', url: camera.httpUrl, username: camera.username, password: camera.password };
  site['live'] = { ...(site['live'] as Record<string, unknown>), idleSeconds: IDLE_SECONDS };
  fs.writeFileSync(sitePath, JSON.stringify(site, null, 2), { mode: 0o600 });

  const started = Date.now();
  const proc = spawn('sh', [opts.launcher], { cwd: os.tmpdir(), env: { PATH: '/usr/bin:/bin', CLOUDCAM_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const events = new AgentEvents(proc);
  try {
    await events.wait('MQTT connection', (e) => e['msg'] === 'MQTT connected', CONNECT_TIMEOUT_MS, proc);
    const connectMs = Date.now() - started;
    const live = await opts.viewer.check(thing, label);
    await events.wait('live.viewer-joined', (e) => e['event'] === 'live.viewer-joined', 10_000, proc);
    await events.wait('live.stopped after the viewer left', (e) => e['event'] === 'live.stopped', (IDLE_SECONDS + 30) * 1000, proc);
    const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.kill('SIGTERM');
    const code = await exit;
    if (code !== 0) throw new Error(`${label}: the agent exited with ${code} on SIGTERM after live view, expected 0`);
    return { ...live, connectMs };
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
}
