/**
 * Live view end to end in chromium: devcloud (KVS stand-in, credentials provider, the simulated
 * camera's RTSP) and the real agent's live feature. Sign in, open camera-1, press Live: frames decode
 * at the camera's size and the picture moves (the simulator draws a clock and a frame counter); two
 * viewers share the camera's one RTSP session; closing both ends that session within idleSeconds + 2 s;
 * a viewer past the camera's maxViewers is told "Too many viewers"; a hidden tab ends the camera's
 * session too; a camera that goes away is "Reconnecting…", then "Camera offline". docs/viewer.md "Live".
 * The 5 s bound is the issue's; under heavy load (load average over 10 on 2 cores) it was seen at 5.2-5.4 s:
 * rerun alone before believing it.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HAS_CHROMIUM, launchChromium, signInToViewer } from '../helpers/browser.js';
import { startTestAgent, startTestDevcloud, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import { readFile } from 'node:fs/promises';
import { DEFAULT_FORMAT } from '../../src/devcloud/camera/rtsp/stream-url.js';

/** What the simulated camera streams when asked for no resolution (the agent asks for none). */
const CAMERA_SIZE = `${DEFAULT_FORMAT.width}x${DEFAULT_FORMAT.height}`;

/**
 * The agent closes the camera's stream as the last viewer leaves. A closed tab is noticed at once by
 * its DTLS close_notify, or, when chromium tears the renderer down before that packet leaves (the
 * likely cause of one CI failure on a loaded machine: a session still open 4 s after closing with
 * idleSeconds 2), by RTCP silence (RTCP_SILENCE_MS, 5 s, checked each second): idleSeconds + 2 s
 * covers both paths, and still fails if the agent never notices the viewers leave.
 */
const IDLE_SECONDS = 5;
const MAX_VIEWERS = 2;
const POLL = { timeout: 10_000, interval: 100 };

describe.skipIf(!HAS_CHROMIUM)('live view in chromium with the agent and the simulated camera', () => {
  let t: TestDevcloud;
  let agent: TestAgent;
  let browser: Browser;

  const frames = (p: Page): Promise<number> => p.evaluate<number>(`document.querySelector('video.live-video')?.getVideoPlaybackQuality().totalVideoFrames ?? 0`);
  const size = (p: Page): Promise<string> => p.evaluate<string>(`(() => { const v = document.querySelector('video.live-video'); return v.videoWidth + 'x' + v.videoHeight; })()`);
  /** A small digest of the picture now: the video drawn on a canvas, its pixels summed in blocks. */
  const picture = (p: Page): Promise<string> =>
    p.evaluate<string>(`(() => {
      const v = document.querySelector('video.live-video');
      const c = document.createElement('canvas');
      c.width = 160; c.height = 90;
      const g = c.getContext('2d');
      g.drawImage(v, 0, 0, 160, 90);
      const d = g.getImageData(0, 0, 160, 90).data;
      const sums = new Array(16).fill(0);
      for (let i = 0; i < d.length; i += 4) sums[(i >> 2) % 16] += d[i] + d[i + 1] + d[i + 2];
      return sums.join(',');
    })()`);
  const stateText = async (p: Page): Promise<string> => (await p.locator('.live-state').textContent()) ?? '';

  const open: Page[] = [];
  async function viewer(): Promise<Page> {
    const p = await (await browser.newContext()).newPage();
    open.push(p);
    await signInToViewer(p, t.dc.viewer);
    await p.goto(`${t.dc.viewer.url}/#/camera/camera-1`);
    await p.getByRole('heading', { name: 'camera-1', level: 1 }).waitFor();
    return p;
  }

  beforeAll(async () => {
    t = await startTestDevcloud({ broker: 'aedes', cameras: 1 });
    agent = await startTestAgent(t.dc, 'camera-1', (c) => {
      c.live.idleSeconds = IDLE_SECONDS;
      c.live.maxViewers = MAX_VIEWERS;
    });
    browser = await launchChromium({ trustCertificates: [await readFile(t.dc.pki.server.certPath)] });
  }, 60_000);

  // A test that fails half-way must not leave its viewers watching into the next one.
  afterEach(async () => {
    for (const p of open.splice(0)) await p.context().close();
  });

  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    await t?.cleanup();
  });

  it("plays camera-1: 30 frames decoded within 5 s of pressing Live, at the camera's size, and the picture changes", async () => {
    const page = await viewer();
    // The simulator's picture online before: wait until presence says so.
    await expect.poll(() => page.locator('.presence .status').textContent(), POLL).toMatch(/^Online/);
    const pressed = Date.now();
    await page.getByRole('button', { name: 'Live' }).click();
    await expect.poll(() => frames(page), { timeout: 5000, interval: 50 }).toBeGreaterThanOrEqual(30);
    const elapsed = Date.now() - pressed;
    expect(elapsed).toBeLessThan(5000);
    expect(await stateText(page)).toBe('Live');
    expect(await size(page)).toBe(CAMERA_SIZE);
    const before = await picture(page);
    await expect.poll(() => picture(page), POLL).not.toBe(before);
  });

  it('two viewers at once share the camera\'s one RTSP session; closing both ends it within idleSeconds + 2 s', async () => {
    const rtsp = t.dc.cameras.get('camera-1')!.rtsp;
    await rtsp.untilSessions((n) => n === 0, (IDLE_SECONDS + 5) * 1000);
    const [a, b] = await Promise.all([viewer(), viewer()]);
    await a.getByRole('button', { name: 'Live' }).click();
    await b.getByRole('button', { name: 'Live' }).click();
    await expect.poll(() => frames(a), POLL).toBeGreaterThanOrEqual(30);
    await expect.poll(() => frames(b), POLL).toBeGreaterThanOrEqual(30);
    expect([await stateText(a), await stateText(b)]).toEqual(['Live', 'Live']);
    expect(rtsp.sessions).toBe(1);
    await expect.poll(() => a.locator('.presence').textContent(), POLL).toContain(`2 of ${MAX_VIEWERS} live viewers`);

    const before = agent.logs.length;
    await Promise.all(open.splice(0).map((p) => p.context().close()));
    const closed = Date.now();
    await rtsp.untilSessions((n) => n === 0, (IDLE_SECONDS + 2) * 1000).catch((err: Error) => {
      const left = agent.logs.slice(before).filter((l) => l.event === 'live.viewer-left' || l.event === 'live.idle');
      throw new Error(`${err.message}; agent said since closing: ${JSON.stringify(left.map((l) => [l.event, l.why, l.time]))}`);
    });
    expect(Date.now() - closed).toBeLessThanOrEqual((IDLE_SECONDS + 2) * 1000);
  }, 40_000);

  it(`"Too many viewers" for the viewer past the camera's maxViewers (${MAX_VIEWERS})`, async () => {
    await t.dc.cameras.get('camera-1')!.rtsp.untilSessions((n) => n === 0, (IDLE_SECONDS + 5) * 1000);
    const watching = await Promise.all(Array.from({ length: MAX_VIEWERS }, () => viewer()));
    for (const p of watching) await p.getByRole('button', { name: 'Live' }).click();
    for (const p of watching) await expect.poll(() => frames(p), POLL).toBeGreaterThanOrEqual(1);
    const late = await viewer();
    // The camera reports its viewer count in its shadow; the API refuses once it is at the cap.
    await expect.poll(() => late.locator('.presence').textContent(), POLL).toContain(`${MAX_VIEWERS} of ${MAX_VIEWERS} live viewers`);
    await late.getByRole('button', { name: 'Live' }).click();
    await expect.poll(() => stateText(late), POLL).toMatch(/^Too many viewers/);
  }, 40_000);

  it('a hidden tab stops watching: the camera ends its RTSP session within idleSeconds + 2 s', async () => {
    const rtsp = t.dc.cameras.get('camera-1')!.rtsp;
    await rtsp.untilSessions((n) => n === 0, (IDLE_SECONDS + 5) * 1000);
    const page = await viewer();
    await page.getByRole('button', { name: 'Live' }).click();
    await expect.poll(() => frames(page), POLL).toBeGreaterThanOrEqual(1);
    expect(rtsp.sessions).toBe(1);
    await page.evaluate(`Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true }); document.dispatchEvent(new Event('visibilitychange'))`);
    const hidden = Date.now();
    await rtsp.untilSessions((n) => n === 0, (IDLE_SECONDS + 2) * 1000);
    expect(Date.now() - hidden).toBeLessThanOrEqual((IDLE_SECONDS + 2) * 1000);
    expect(await stateText(page)).toBe('Stopped while the page was hidden; press Live to watch again.');
  }, 30_000);

  it('the camera going away while watched: "Reconnecting…", then "Camera offline"', async () => {
    const page = await viewer();
    await page.getByRole('button', { name: 'Live' }).click();
    await expect.poll(() => frames(page), POLL).toBeGreaterThanOrEqual(1);
    // Every state the page shows, in order ("Reconnecting…" may last only as long as one API call).
    await page.evaluate(`window.states = []; new MutationObserver(() => window.states.push(document.querySelector('.live-state').textContent)).observe(document.querySelector('.live-state'), { subtree: true, childList: true, characterData: true })`);
    await agent.stop();
    await expect.poll(() => stateText(page), { timeout: 20_000, interval: 100 }).toMatch(/^Camera offline/);
    const states = (await page.evaluate<string[]>(`window.states`)).map((text) => text.split(' — ')[0]);
    expect(states.filter((x, i) => x !== states[i - 1])).toEqual(['Reconnecting…', 'Camera offline']);
    expect(await page.locator('video.live-video').isHidden()).toBe(true);
  }, 40_000);
});
