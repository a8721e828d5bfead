/**
 * The camera page as a camera's home, in chromium against devcloud with real agents (docs/viewer.md
 * "Camera" and "Live"): status, Snapshot now, the newest picture large, and the Live button's
 * signalling — the browser's own WebSocket to devcloud's KVS stand-in with the URL the API presigned,
 * its offer reaching the camera's channel as the KVS messages say (docs/protocol-live.md), "Camera
 * offline" and "Too many viewers" from the API, asking again after 10 s without an answer, stopping on
 * Stop and when the tab is hidden; on a phone viewport and by keyboard; a browser that does not trust
 * devcloud's signalling certificate is told what to do, and the command line it is given works. The camera's side of the
 * stream (decoded frames) needs the agent's live feature: see the tests marked so below.
 */
import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchRoleCredentials } from '../../src/protocol/iot-credentials.js';
import { presignSignalingUrl } from '../../src/protocol/kvs-presign.js';
import { channelNameOf, type LiveReport } from '../../src/protocol/live-request.js';
import { DEFAULT_SHADOW_NAME } from '../../src/protocol/topics.js';
import { spkiPin } from '../../src/lib/spki-pin.js';
import { HAS_CHROMIUM, launchChromium, signInToViewer } from '../helpers/browser.js';
import { startTestAgent, startTestDevcloud, waitForReport, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import { connectPeer, type TestPeer } from '../helpers/signaling-peer.js';

const POLL = { timeout: 8000, interval: 100 };

describe.skipIf(!HAS_CHROMIUM)('camera page in chromium: status, Snapshot now, Live signalling, phone and keyboard', () => {
  let t: TestDevcloud;
  let browser: Browser;
  let page: Page;
  let ca: Buffer;
  const agents = new Map<string, TestAgent>();

  const liveState = (p: Page = page) => p.locator('.live-state');
  const stateText = async (p: Page = page): Promise<string> => (await liveState(p).textContent()) ?? '';
  const report = (thing: string, reported: Record<string, unknown>): void => {
    t.dc.store.update({ thing, shadow: DEFAULT_SHADOW_NAME }, JSON.stringify({ state: { reported } }));
  };

  const signIn = (p: Page): Promise<void> => signInToViewer(p, t.dc.viewer);

  async function openCamera(p: Page, thing: string): Promise<void> {
    await p.goto(`${t.dc.viewer.url}/#/camera/${thing}`);
    await p.getByRole('heading', { name: thing, level: 1 }).waitFor();
  }

  /** The camera's side of signalling, as the agent connects: MASTER of its own channel with role credentials from its certificate. */
  async function cameraMaster(thing: string): Promise<TestPeer> {
    const device = t.dc.info.devices[thing]!;
    const credentials = await fetchRoleCredentials({
      endpoint: t.dc.info.live.credentialsProvider.url,
      roleAlias: t.dc.info.live.credentialsProvider.roleAlias,
      thingName: thing,
      tls: { cert: await readFile(device.certPath), key: await readFile(device.keyPath), ca },
    });
    const channel = t.dc.live.kvs.store.find({ name: channelNameOf(thing) })!;
    const endpoint = `${t.dc.info.live.kvs.signallingUrl.replace(/^https:/, 'wss:')}/master`;
    return connectPeer(await presignSignalingUrl({ endpoint, channelArn: channel.arn, role: 'MASTER', region: t.dc.info.live.kvs.region, credentials }), ca);
  }

  beforeAll(async () => {
    t = await startTestDevcloud({ broker: 'aedes', cameras: 2 });
    ca = await readFile(t.dc.info.caPath);
    const first = new Promise<string>((resolve) => {
      t.dc.rules.on('handled', (r) => {
        if (r.action === 'requested' && r.thing === 'camera-1') resolve(r.request.id);
      });
    });
    // These tests play the camera's side of signalling themselves (cameraMaster): the agents' own live
    // feature is off, or it would become the channel's master and take the offers (test/browser/live-stream.test.ts plays it).
    for (const thing of ['camera-1', 'camera-2']) agents.set(thing, await startTestAgent(t.dc, thing, (c) => void (c.live.enabled = false)));
    await waitForReport(t.dc, 'camera-1', await first);
    // camera-2 was online once and is offline now.
    await agents.get('camera-2')!.stop();
    agents.delete('camera-2');
    browser = await launchChromium({ trustCertificates: [await readFile(t.dc.pki.server.certPath)] });
    page = await (await browser.newContext()).newPage();
    await signIn(page);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const a of agents.values()) await a.stop();
    await t?.cleanup();
  });

  it("shows the camera's status, agent version and newest picture large; Snapshot now shows the new picture", async () => {
    await openCamera(page, 'camera-1');
    const home = page.getByRole('region', { name: 'Camera' });
    await expect.poll(() => home.locator('.presence .status').textContent(), POLL).toMatch(/^Online since \d+ s ago$/);
    expect(await home.locator('.presence').textContent()).toMatch(/Agent \d+\.\d+\.\d+/);
    const latest = home.locator('img.latest');
    await expect.poll(() => latest.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth), POLL).toBeGreaterThan(320);
    const before = await latest.getAttribute('data-key');

    const requested = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/api/cameras/camera-1/snapshot'));
    const clicked = Date.now();
    await home.getByRole('button', { name: 'Snapshot now' }).click();
    await expect.poll(() => home.locator('.note').textContent(), POLL).toMatch(/^Requested… waiting for the camera\.$|^New picture taken/);
    const { key } = (await (await requested).json()) as { key: string };
    expect(key).not.toBe(before);
    await expect.poll(() => latest.getAttribute('data-key'), POLL).toBe(key);
    await expect.poll(() => home.locator('.note').textContent(), POLL).toMatch(/^New picture taken /);
    expect(Date.now() - clicked).toBeLessThan(8000);
  });

  it('Live opens the signalling WebSocket with the presigned URL: the camera\'s channel receives a recvonly H.264-capable offer and candidates', async () => {
    await openCamera(page, 'camera-1');
    await page.getByRole('button', { name: 'Live' }).click();
    await expect.poll(() => stateText(), POLL).toMatch(/^Connecting…/);
    await expect.poll(() => t.dc.live.kvs.store.find({ name: 'cloudcam-camera-1' }) !== undefined, POLL).toBe(true);
    // The browser's offer is held for the channel's message TTL until a master connects (docs/protocol-live.md).
    const master = await cameraMaster('camera-1');
    try {
      const offer = await master.next();
      expect(offer.messageType).toBe('SDP_OFFER');
      expect(offer.senderClientId).toMatch(/^viewer\.viewer\.[0-9a-f]{12}$/);
      const sdp = (offer.payload as { type: string; sdp: string }).sdp;
      expect((offer.payload as { type: string }).type).toBe('offer');
      expect(sdp).toMatch(/^m=video /m);
      expect(sdp).toMatch(/^a=recvonly/m);
      expect(sdp).toMatch(/^a=rtpmap:\d+ H264\/90000/m);
      expect(await master.next()).toMatchObject({ messageType: 'ICE_CANDIDATE', senderClientId: offer.senderClientId });
    } finally {
      master.client.close();
    }
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => stateText(), POLL).toBe('');
    expect(await page.locator('video.live-video').isHidden()).toBe(true);
    expect(await page.locator('img.latest').isVisible()).toBe(true);
  });

  it('no answer within 10 s: "Reconnecting…", and the API is asked again (a new viewer client id reaches the channel)', async () => {
    await openCamera(page, 'camera-1');
    const master = await cameraMaster('camera-1');
    try {
      await page.getByRole('button', { name: 'Live' }).click();
      const first = await master.next();
      expect(first.messageType).toBe('SDP_OFFER');
      await expect.poll(() => stateText(), { timeout: 14_000, interval: 200 }).toMatch(/^Reconnecting… — no answer from the camera within 10 s/);
      let second = await master.next(8000);
      while (second.messageType !== 'SDP_OFFER') second = await master.next(8000);
      expect(second.senderClientId).not.toBe(first.senderClientId);
    } finally {
      master.client.close();
      await page.getByRole('button', { name: 'Stop' }).click();
    }
  }, 30_000);

  it('"Camera offline" within 5 s for a camera that is offline', async () => {
    await openCamera(page, 'camera-2');
    await expect.poll(() => page.locator('.presence .status').textContent(), POLL).toMatch(/^Offline since/);
    const pressed = Date.now();
    await page.getByRole('button', { name: 'Live' }).click();
    await expect.poll(() => stateText(), POLL).toMatch(/^Camera offline/);
    expect(Date.now() - pressed).toBeLessThan(5000);
    // Nothing to show: the button is Live again and no stream is kept.
    expect(await page.getByRole('button', { name: 'Live' }).isVisible()).toBe(true);
  });

  it('"Too many viewers" when the camera reports its viewer slots full', async () => {
    const full: LiveReport = { state: 'on', viewers: 4, maxViewers: 4, since: new Date().toISOString() };
    report('camera-1', { live: full });
    try {
      await openCamera(page, 'camera-1');
      await expect.poll(() => page.locator('.presence').textContent(), POLL).toContain('4 of 4 live viewers');
      await page.getByRole('button', { name: 'Live' }).click();
      await expect.poll(() => stateText(), POLL).toMatch(/^Too many viewers/);
    } finally {
      report('camera-1', { live: null });
    }
  });

  it('stops when the tab is hidden', async () => {
    await openCamera(page, 'camera-1');
    await page.getByRole('button', { name: 'Live' }).click();
    await expect.poll(() => stateText(), POLL).toMatch(/^Connecting…/);
    // What chromium does when the tab goes to the background (headless has no other tab to switch to).
    await page.evaluate(`Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true }); document.dispatchEvent(new Event('visibilitychange'))`);
    await expect.poll(() => stateText(), POLL).toBe('Stopped while the page was hidden; press Live to watch again.');
    expect(await page.getByRole('button', { name: 'Live' }).isVisible()).toBe(true);
    await page.reload();
  });

  it('works by keyboard: Tab reaches Live and Snapshot now with a visible focus ring; Enter and Space press them', async () => {
    await openCamera(page, 'camera-1');
    await page.getByRole('button', { name: 'Live' }).waitFor();
    await page.locator('body').focus();
    const focused = async (): Promise<string> => page.evaluate<string>(`document.activeElement?.textContent ?? ''`);
    const reached: string[] = [];
    for (let i = 0; i < 12 && !(reached.includes('Live') && reached.includes('Snapshot now')); i++) {
      await page.keyboard.press('Tab');
      reached.push(await focused());
    }
    expect(reached).toContain('Live');
    expect(reached).toContain('Snapshot now');
    expect(reached.indexOf('Live')).toBeLessThan(reached.indexOf('Snapshot now'));

    const live = page.getByRole('button', { name: 'Live' });
    await live.focus();
    const outline = await page.evaluate<string>(`getComputedStyle(document.activeElement).outlineStyle`);
    expect(outline).not.toBe('none');
    await page.keyboard.press('Enter');
    await expect.poll(() => stateText(), POLL).toMatch(/^Connecting…/);
    // The same button is now Stop and keeps the focus: Space stops.
    expect(await focused()).toBe('Stop');
    await page.keyboard.press(' ');
    await expect.poll(() => stateText(), POLL).toBe('');
    expect(await focused()).toBe('Live');
  });

  it('a browser that does not trust devcloud\'s CA: "Cannot reach live signalling" with what to do, after two tries; the command line it shows works', async () => {
    const untrusting = await launchChromium();
    try {
      const p = await (await untrusting.newContext()).newPage();
      await signIn(p);
      await openCamera(p, 'camera-1');
      let grants = 0;
      p.on('response', (r) => void (r.request().method() === 'POST' && r.url().endsWith('/api/cameras/camera-1/live') && grants++));
      await p.getByRole('button', { name: 'Live' }).click();
      await expect.poll(() => stateText(p), POLL).toMatch(/^Cannot reach live signalling — This browser could not open devcloud's live signalling at wss:\/\/127\.0\.0\.1:\d+: its certificate comes from devcloud's own CA/);
      // It stopped instead of spinning: the button is Live again, two grants were asked for, no more.
      expect(await p.getByRole('button', { name: 'Live' }).isVisible()).toBe(true);
      expect(grants).toBe(2);
      expect(await stateText(p)).toContain(t.dc.info.caPath);
      const command = (await p.getByLabel('Command line to watch live').textContent()) ?? '';
      const pin = spkiPin(await readFile(t.dc.pki.server.certPath));
      expect(command).toMatch(new RegExp(`^chromium --user-data-dir=\\S+ --ignore-certificate-errors-spki-list=${pin.replace(/[+/]/g, '\\$&')} ${t.dc.viewer.url}$`));
      // The shown flag, and nothing else, lets a browser open the socket: the offer reaches the camera's channel.
      const flag = command.split(' ').find((a) => a.startsWith('--ignore-certificate-errors-spki-list='))!;
      const pinned = await launchChromium({ extraArgs: [flag] });
      const master = await cameraMaster('camera-1');
      try {
        const q = await (await pinned.newContext()).newPage();
        await signIn(q);
        await openCamera(q, 'camera-1');
        await q.getByRole('button', { name: 'Live' }).click();
        expect((await master.next()).messageType).toBe('SDP_OFFER');
        expect(await stateText(q)).not.toMatch(/Cannot reach/);
        await q.getByRole('button', { name: 'Stop' }).click();
      } finally {
        master.client.close();
        await pinned.close();
      }
    } finally {
      await untrusting.close();
    }
  });

  it('fits a phone (375x667): no sideways scrolling, the picture, Live and Snapshot now in view', async () => {
    const phone = await (await browser.newContext({ viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true })).newPage();
    try {
      await signIn(phone);
      await openCamera(phone, 'camera-1');
      const latest = phone.locator('img.latest');
      await latest.waitFor();
      expect(await phone.locator('html').evaluate((el) => (el as unknown as { scrollWidth: number }).scrollWidth)).toBeLessThanOrEqual(375);
      for (const target of [latest, phone.getByRole('button', { name: 'Live' }), phone.getByRole('button', { name: 'Snapshot now' })]) {
        const box = (await target.boundingBox())!;
        expect(box.x).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width).toBeLessThanOrEqual(375);
        expect(box.y + box.height).toBeLessThanOrEqual(667);
      }
      await phone.getByRole('button', { name: 'Live' }).tap();
      await expect.poll(() => stateText(phone), POLL).toMatch(/^Connecting…/);
      expect((await phone.locator('video.live-video').boundingBox())!.width).toBeLessThanOrEqual(375);
      await phone.getByRole('button', { name: 'Stop' }).tap();
    } finally {
      await phone.context().close();
    }
  });
});
