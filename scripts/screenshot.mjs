#!/usr/bin/env node
// `make screenshot`: the fleet page of a running devcloud, photographed by chromium (playwright-core):
// four simulated cameras, three with their real agent process (online, one snapshot each), one never
// started (offline). Writes docs/images/viewer.png (or --out FILE); with --live-out FILE also camera-1's
// page playing live (Live pressed, the stream from the simulator's RTSP through the agent, at least 30
// frames decoded), the README's picture.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(root, 'docs/images/viewer.png') }, 'live-out': { type: 'string' } } });
const { startDevcloud } = await import(path.join(root, 'dist/devcloud/devcloud.js'));
const { createLogger } = await import(path.join(root, 'dist/lib/log.js'));
const { launchChromium } = await import(path.join(root, 'dist/packaging/chromium.js'));
const { readFile } = await import('node:fs/promises');

const stateDir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-screenshot-'));
const devcloud = await startDevcloud({ stateDir, cameras: 4, log: createLogger({ name: 'devcloud', level: 'warn' }) });
const online = ['camera-1', 'camera-2', 'camera-3'];
const thumbnails = new Set();
const allThumbnails = new Promise((resolve) => {
  devcloud.viewer.on('thumbnail', (r) => {
    if (r.thumbnail) thumbnails.add(r.key.split('/')[0]);
    if (online.every((t) => thumbnails.has(t))) resolve();
  });
});
const agents = online.map((thing) =>
  spawn(process.execPath, [path.join(root, 'dist/cli.js'), 'agent', '--config', devcloud.info.devices[thing].agentConfigPath], {
    stdio: 'ignore',
    env: { ...process.env, CLOUDCAM_SCHEDULE_CRON: '' },
  }),
);
let browser;
try {
  await allThumbnails;
  // The signalling WSS has devcloud's server certificate: chromium trusts its key alone.
  browser = await launchChromium({ trustCertificates: [await readFile(devcloud.pki.server.certPath)] });
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 760 } })).newPage();
  await page.goto(devcloud.info.viewer.url);
  await page.getByLabel('Username').fill(devcloud.info.viewer.username);
  await page.getByLabel('Password').fill(devcloud.info.viewer.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  for (const thing of online) {
    const img = page.getByRole('article', { name: thing }).getByRole('img');
    await img.waitFor();
    await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
  }
  await mkdir(path.dirname(values.out), { recursive: true });
  await page.screenshot({ path: values.out });
  console.log(`wrote ${path.relative(process.cwd(), values.out)}`);
  if (values['live-out']) {
    const live = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
    await live.goto(devcloud.info.viewer.url);
    await live.getByLabel('Username').fill(devcloud.info.viewer.username);
    await live.getByLabel('Password').fill(devcloud.info.viewer.password);
    await live.getByRole('button', { name: 'Sign in' }).click();
    await live.getByRole('heading', { name: 'Cameras' }).waitFor();
    await live.goto(`${devcloud.info.viewer.url}/#/camera/camera-1`);
    await live.getByRole('button', { name: 'Live' }).click();
    await live.waitForFunction(() => document.querySelector('.live-state')?.textContent === 'Live', undefined, { timeout: 30_000 });
    await live.waitForFunction(() => (document.querySelector('video.live-video')?.getVideoPlaybackQuality().totalVideoFrames ?? 0) >= 30, undefined, { timeout: 30_000 });
    await live.evaluate(() => window.scrollTo(0, 0));
    await mkdir(path.dirname(values['live-out']), { recursive: true });
    // The video's grain makes a plain PNG ~850 KB; a 256-colour palette keeps the picture at ~290 KB.
    await sharp(await live.screenshot()).png({ palette: true, effort: 10, compressionLevel: 9 }).toFile(values['live-out']);
    console.log(`wrote ${path.relative(process.cwd(), values['live-out'])}`);
  }
} finally {
  await browser?.close();
  await Promise.all(agents.map((a) => new Promise((resolve) => (a.exitCode !== null ? resolve() : (a.once('exit', resolve), a.kill('SIGTERM'))))));
  await devcloud.stop();
  await rm(stateDir, { recursive: true, force: true });
}
