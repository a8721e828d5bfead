/**
 * test-package's live check: the packaged agent, running under qemu, serves a live session — the
 * cloud asks it to go live, a viewer in chromium (native RTCPeerConnection + WebSocket, live-viewer.ts)
 * decodes at least one frame.
 */
import type { DevcloudInfo } from '../devcloud/info.js';
import { goLive, openLiveBrowser, viewerTarget, type LiveBrowser } from './live-viewer.js';

/** Under qemu the agent loads werift and answers slowly: generous, but bounded. */
const FIRST_FRAME_TIMEOUT_MS = 90_000;

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
