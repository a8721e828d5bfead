#!/usr/bin/env node
// `make bench-viewer`: the viewer with 500 simulated cameras. A benchmark, not a test. Builds the
// fleet without 500 agents: a shadow per camera (online, agent version, last snapshot uploaded) in
// devcloud's shadow store behind its data-plane REST API, one real JPEG per camera in devcloud's S3
// stand-in (uploaded with a presigned POST) and its thumbnail. Then measures, through the real API
// handler and the devcloud viewer server: GET /api/cameras p50/p95 per page size, and in chromium the
// time from navigation (already signed in) to every thumbnail of the first page decoded.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { cameras: { type: 'string', default: '500' }, requests: { type: 'string', default: '100' } } });
const CAMERAS = Number(values.cameras);
const REQUESTS = Number(values.requests);
const load = (p) => import(path.join(root, 'dist', p));
const { startS3 } = await load('devcloud/s3/server.js');
const { ShadowStore } = await load('devcloud/shadow/store.js');
const { startDataPlaneApi } = await load('devcloud/shadow/rest-api.js');
const { startDevcloudViewer } = await load('devcloud/viewer.js');
const { createCloudHandler, createS3Client, newRequestId, snapshotKey } = await load('cloud/handler.js');
const { createBucket } = await load('viewer/api/bucket.js');
const { THUMBNAIL_WIDTH } = await load('viewer/thumbnail.js');
const { createLogger } = await import(path.join(root, 'dist/lib/log.js'));
const { launchChromium } = await import(path.join(root, 'dist/packaging/chromium.js'));

const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-bench-viewer-'));
const log = createLogger({ name: 'bench', level: 'warn' });
const credentials = { accessKeyId: 'AKIABENCHVIEWER00', secretAccessKey: 'bench-secret-key-bench-secret-key-0000' };
const region = 'us-east-1';
const bucketName = 'cloudcam-snapshots';
const s3 = await startS3({ rootDir: path.join(dir, 's3'), buckets: [bucketName], credentials: [credentials], region });
const store = new ShadowStore({});
const dataPlane = await startDataPlaneApi({ store });
const handler = createCloudHandler({ region, bucket: bucketName, shadowName: 'cloudcam', expiresSeconds: 300, maxBytes: 5 << 20, s3Endpoint: s3.url, iotDataEndpoint: dataPlane.url, credentials });
const things = Array.from({ length: CAMERAS }, (_, i) => `camera-${String(i + 1).padStart(3, '0')}`);
// The bench measures the fleet page: nobody presses Live, so the viewer's live side points at nothing
// (a closed port) and refuses to publish, rather than starting KVS stand-ins the numbers do not need.
const noLive = { kvsControlUrl: 'https://127.0.0.1:9', signallingUrl: 'https://127.0.0.1:9', ca: '', publish: async () => Promise.reject(new Error('make bench-viewer runs no live view')) };
const viewer = await startDevcloudViewer({ stateDir: dir, s3, bucket: bucketName, region, credentials, dataPlaneUrl: dataPlane.url, shadowName: 'cloudcam', handler, things: () => things, log, thumbnails: true, live: noLive });
// The viewer makes thumbnails as objects land; the bench waits for them all.
let thumbs = 0;
const allThumbs = new Promise((resolve) => viewer.on('thumbnail', (r) => r.thumbnail && ++thumbs === CAMERAS && resolve()));

const t0 = performance.now();
const bucket = createBucket(createS3Client({ region, credentials, s3Endpoint: s3.url }), bucketName);
const frame = await sharp({ create: { width: 1280, height: 720, channels: 3, background: '#4a6a8a' } }).jpeg({ quality: 80 }).toBuffer();
for (const thing of things) {
  const now = new Date();
  const id = newRequestId(now);
  const key = snapshotKey(thing, id, now);
  await bucket.write(key, frame, 'image/jpeg');
  store.update({ thing, shadow: 'cloudcam' }, JSON.stringify({ state: { reported: { connected: true, agentVersion: '0.1.0', snapshot: { id, status: 'uploaded', bytes: frame.length, key, ms: 100, error: null, at: now.toISOString() } } } }));
}
await allThumbs;
console.log(`fleet of ${CAMERAS} cameras built in ${((performance.now() - t0) / 1000).toFixed(1)} s (one ${(frame.length / 1024).toFixed(0)} KB JPEG and a ${THUMBNAIL_WIDTH} px thumbnail each)`);

const token = viewer.issuer.accessToken();
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
for (const limit of [50, 100]) {
  const pages = [];
  let next = null;
  do {
    pages.push(next);
    const res = await fetch(`${viewer.url}/api/cameras?limit=${limit}${next ? `&next=${next}` : ''}`, { headers: { authorization: `Bearer ${token}` } });
    next = (await res.json()).next;
  } while (next);
  const ms = [];
  for (let i = 0; i < REQUESTS; i++) {
    const page = pages[i % pages.length];
    const t = performance.now();
    const res = await fetch(`${viewer.url}/api/cameras?limit=${limit}${page ? `&next=${page}` : ''}`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    ms.push(performance.now() - t);
  }
  console.log(`GET /api/cameras?limit=${limit}: p50 ${pct(ms, 50).toFixed(1)} ms, p95 ${pct(ms, 95).toFixed(1)} ms over ${REQUESTS} requests (${pages.length} pages)`);
}

const browser = await launchChromium();
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await page.goto(viewer.url);
  await page.getByLabel('Username').fill(viewer.username);
  await page.getByLabel('Password').fill(viewer.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Cameras' }).waitFor();
  const runs = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await page.reload();
    await page.waitForFunction(() => {
      const imgs = [...document.querySelectorAll('article img')];
      return imgs.length >= 50 && imgs.every((img) => img.complete && img.naturalWidth > 0);
    }, undefined, { timeout: 30_000, polling: 20 });
    runs.push(performance.now() - t);
  }
  console.log(`fleet page, first 50 thumbnails decoded after navigation: p50 ${pct(runs, 50).toFixed(0)} ms, max ${Math.max(...runs).toFixed(0)} ms over ${runs.length} loads`);
} finally {
  await browser.close();
  await viewer.stop();
  handler.destroy();
  await dataPlane.stop();
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
}
