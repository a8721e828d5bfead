import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShareToken } from '../../src/viewer/api/share-token.js';
import { launchChromium, HAS_CHROMIUM } from '../helpers/browser.js';
import { startTestAgent, startTestDevcloud, waitForReport, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import { uploadEventPictures } from '../helpers/event-upload.js';
import { eventKey } from '../../src/protocol/upload-grant.js';

/** The viewer in a real browser against devcloud with real agents (docs/viewer.md). */

const POLL = { timeout: 8000, interval: 100 };
/** 0 until the browser has loaded and decoded the picture. */
const naturalWidth = (img: Locator): Promise<number> => img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth);

describe.skipIf(!HAS_CHROMIUM)('viewer in chromium: sign in, fleet, snapshot now, presence, history, share links', () => {
  let t: TestDevcloud;
  let browser: Browser;
  let page: Page;
  const agents = new Map<string, TestAgent>();
  let shareUrl = '';
  let snapshotKey = '';

  const card = (name: string) => page.getByRole('article', { name });
  const shots = (p: Page) => p.getByRole('button', { name: /^Open snapshot taken/ });

  beforeAll(async () => {
    t = await startTestDevcloud({ broker: 'aedes', cameras: 2, thumbnails: true });
    const firsts = ['camera-1', 'camera-2'].map(
      (thing) =>
        new Promise<string>((resolve) => {
          t.dc.rules.on('handled', (r) => {
            if (r.action === 'requested' && r.thing === thing) resolve(r.request.id);
          });
        }),
    );
    for (const thing of ['camera-1', 'camera-2']) agents.set(thing, await startTestAgent(t.dc, thing));
    await Promise.all(firsts.map(async (id, i) => waitForReport(t.dc, `camera-${i + 1}`, await id)));
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
  });
  afterAll(async () => {
    await browser?.close();
    for (const a of agents.values()) await a.stop();
    await t?.cleanup();
  });

  it('signs in with the dev user (code flow with PKCE) and lists every camera online', async () => {
    await page.goto(t.dc.viewer.url);
    await page.getByLabel('Username').fill(t.dc.viewer.username);
    await page.getByLabel('Password').fill(t.dc.viewer.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Cameras' }).waitFor();
    for (const name of ['camera-1', 'camera-2']) {
      await expect.poll(() => card(name).locator('.status').textContent(), POLL).toBe('Online');
      await expect.poll(() => naturalWidth(card(name).getByRole('img')), POLL).toBeGreaterThan(0);
      expect(await card(name).textContent()).toMatch(/Agent \d+\.\d+\.\d+/);
      expect(await card(name).textContent()).toContain('Last snapshot uploaded');
    }
  });

  it('refuses a wrong password on the sign-in page', async () => {
    const other = await (await browser.newContext()).newPage();
    await other.goto(t.dc.viewer.url);
    await other.getByLabel('Username').fill(t.dc.viewer.username);
    await other.getByLabel('Password').fill('wrong');
    await other.getByRole('button', { name: 'Sign in' }).click();
    await other.getByRole('alert').filter({ hasText: 'Incorrect username or password.' }).waitFor();
    await other.context().close();
  });

  it('"Snapshot now" shows the new picture within seconds', async () => {
    const before = await card('camera-1').getByRole('img').getAttribute('data-key');
    const requested = new Promise<string>((resolve) => {
      const on = (key: { thing: string }, result: unknown): void => {
        const rep = (result as { documents?: { current?: { state?: { reported?: { snapshot?: { key?: string; status?: string } } } } } }).documents?.current?.state?.reported?.snapshot;
        if (key.thing === 'camera-1' && rep?.status === 'uploaded' && rep.key && rep.key !== before) {
          t.dc.store.off('updated', on);
          resolve(rep.key);
        }
      };
      t.dc.store.on('updated', on);
    });
    const clicked = Date.now();
    await card('camera-1').getByRole('button', { name: 'Snapshot now' }).click();
    snapshotKey = await requested;
    await expect.poll(() => card('camera-1').getByRole('img').getAttribute('data-key'), POLL).toBe(snapshotKey);
    await expect.poll(() => naturalWidth(card('camera-1').getByRole('img')), POLL).toBeGreaterThan(0);
    expect(Date.now() - clicked).toBeLessThan(5000);
  });

  it('shows a camera offline within seconds of its agent stopping', async () => {
    await agents.get('camera-2')!.stop();
    agents.delete('camera-2');
    const stopped = Date.now();
    await expect.poll(() => card('camera-2').locator('.status').textContent(), POLL).toBe('Offline');
    expect(Date.now() - stopped).toBeLessThan(5000);
  });

  it('the camera page lists the history newest first and opens the full picture with time and size', async () => {
    await card('camera-1').getByRole('link', { name: 'camera-1' }).click();
    await page.getByRole('heading', { name: 'camera-1', level: 1 }).waitFor();
    const shots = page.getByRole('button', { name: /^Open snapshot taken/ });
    await expect.poll(() => shots.count(), POLL).toBeGreaterThanOrEqual(2);
    await shots.first().click();
    const full = page.getByRole('region', { name: 'Full-size picture' });
    await expect.poll(() => naturalWidth(full.locator('img')), POLL).toBeGreaterThan(320);
    expect(await full.locator('img').getAttribute('src')).toContain(encodeURI(snapshotKey).split('/').pop()!);
    expect(await full.locator('figcaption').textContent()).toMatch(/KB/);
    expect(await full.getByRole('link', { name: 'Download' }).getAttribute('href')).toMatch(/^http/);
  });

  it('is usable by keyboard and on a phone: every image has alt text, Enter opens a picture, Escape closes it', async () => {
    const imgs = page.locator('img');
    expect(await imgs.count()).toBeGreaterThan(1);
    for (let i = 0; i < (await imgs.count()); i++) expect(await imgs.nth(i).getAttribute('alt')).toMatch(/^Snapshot from camera-1 taken /);
    await page.getByRole('button', { name: 'Close' }).press('Enter');
    await page.getByRole('region', { name: 'Full-size picture' }).waitFor({ state: 'detached' });
    await page.getByRole('button', { name: /^Open snapshot taken/ }).first().focus();
    await page.keyboard.press('Enter');
    const full = page.getByRole('region', { name: 'Full-size picture' });
    await full.waitFor();
    expect(await page.locator(':focus').textContent()).toBe('Close');
    await page.keyboard.press('Escape');
    await full.waitFor({ state: 'detached' });

    const phone = await (await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true })).newPage();
    await phone.goto(t.dc.viewer.url);
    await phone.getByLabel('Username').fill(t.dc.viewer.username);
    await phone.getByLabel('Password').fill(t.dc.viewer.password);
    await phone.getByRole('button', { name: 'Sign in' }).click();
    await phone.getByRole('article', { name: 'camera-1' }).waitFor();
    expect(await phone.locator('html').evaluate((el) => (el as unknown as { scrollWidth: number }).scrollWidth)).toBeLessThanOrEqual(360);
    await phone.context().close();
    await shots(page).first().click();
  });

  it('Share makes a link that opens in a fresh browser without signing in', async () => {
    const full = page.getByRole('region', { name: 'Full-size picture' });
    await full.getByLabel('Link valid for').selectOption('86400');
    await full.getByRole('button', { name: 'Share' }).click();
    shareUrl = await (async () => {
      await full.getByLabel('Share link').waitFor();
      return full.getByLabel('Share link').inputValue();
    })();
    expect(shareUrl).toContain('/s/');
    const fresh = await browser.newContext();
    const res = await (await fresh.newPage()).goto(shareUrl);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-type']).toBe('image/jpeg');
    await fresh.close();
  });

  it('a revoked link and an expired link are refused', async () => {
    await page.getByRole('region', { name: 'Full-size picture' }).getByRole('button', { name: 'Revoke link' }).click();
    await page.getByText('The link was revoked.').waitFor();
    const fresh = await browser.newContext();
    const p = await fresh.newPage();
    const revoked = await p.goto(shareUrl);
    expect(revoked?.status()).toBe(410);
    expect(await p.textContent('body')).toContain('revoked');

    const { shareKey } = JSON.parse(await readFile(path.join(t.dir, 'viewer.json'), 'utf8')) as { shareKey: string };
    const expired = createShareToken({ secret: Buffer.from(shareKey, 'base64'), key: snapshotKey, ttlSeconds: 3600, now: new Date(Date.now() - 3601_000) });
    const old = await p.goto(`${t.dc.viewer.url}/s/${expired.token}`);
    expect(old?.status()).toBe(410);
    expect(await p.textContent('body')).toContain('expired');
    await fresh.close();
  });

  it('the camera page shows event snapshots marked with their trigger, and opens one', async () => {
    const jpeg = await readFile(path.join(t.dc.info.s3.dir, t.dc.info.s3.bucket, snapshotKey));
    const key = eventKey('camera-1', 'motion', new Date());
    await uploadEventPictures(t.dc, 'camera-1', [key], jpeg);
    const events = page.getByRole('region', { name: 'Event snapshots' });
    await events.waitFor({ timeout: POLL.timeout });
    const shot = events.getByRole('button', { name: /^Open event snapshot \(motion\)/ });
    await expect.poll(() => naturalWidth(shot.getByRole('img')), POLL).toBeGreaterThan(0);
    expect(await shot.locator('.trigger').textContent()).toBe('motion');
    await shot.click();
    const full = page.getByRole('region', { name: 'Full-size picture' });
    await expect.poll(() => full.locator('img').getAttribute('src'), POLL).toContain(encodeURI(key).split('/').pop()!);
  });
});
