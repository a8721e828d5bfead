/**
 * What one viewer request may make the API do, and what a camera may make the fleet page show
 * (issue 20, items 1-3, each reproduced there against a running devcloud):
 *  - a `before` cursor later than now made one request list S3 once per day back to the oldest
 *    picture (11.6 s for a 2040 cursor, ~2.9 million listings for year 9999);
 *  - an event key dated 2015 (the camera names its event keys) made every events page walk from today
 *    back to 2015; a year-0001 key, for ever;
 *  - the fleet page listed a camera's whole prefix on each poll, and showed whatever snapshot key the
 *    camera reported, another camera's included.
 * Listings are counted by devcloud's S3 stand-in (stats.lists), pictures 400 days apart are files in
 * its bucket directory, as an upload would leave them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRequestId, snapshotKey, createS3Client } from '../../src/cloud/handler.js';
import { eventKey } from '../../src/protocol/upload-grant.js';
import { createBucket } from '../../src/viewer/api/bucket.js';
import { history, MAX_LISTINGS_PER_PAGE } from '../../src/viewer/api/history.js';
import { staticDirectory, type CameraSummary, type ImageRef } from '../../src/viewer/api/fleet.js';
import { createViewerApi } from '../../src/viewer/api/handler.js';
import { bucketRevocations } from '../../src/viewer/api/revocations.js';
import type { EventImageRef } from '../../src/viewer/api/types.js';
import { startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { uploadEventPictures } from '../helpers/event-upload.js';

const DAY = 24 * 3600 * 1000;
const refuse = (): Promise<never> => Promise.reject(new Error('not in this test'));
const notInThisTest = { ensureChannel: refuse, viewerEndpoints: refuse, iceServers: refuse, presignViewer: refuse };
const devBucket = () => createBucket(createS3Client({ region: t.dc.info.s3.region, s3Endpoint: t.dc.info.s3.url, credentials: t.dc.info.s3 }), t.dc.info.s3.bucket);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);

let t: TestDevcloud;
let token: string;
const sparse: string[] = [];

const api = async <T>(p: string): Promise<{ status: number; body: T; lists: number; ms: number }> => {
  const lists = t.dc.s3.stats.lists;
  const started = Date.now();
  const res = await fetch(`${t.dc.viewer.url}${p}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as T, lists: t.dc.s3.stats.lists - lists, ms: Date.now() - started };
};

/** An object as the S3 stand-in stores an upload: a file under its bucket directory. */
async function storeObject(key: string): Promise<string> {
  const file = path.join(t.dc.info.s3.dir, t.dc.info.s3.bucket, key);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JPEG);
  return key;
}

/** A snapshot as the cloud handler names it, taken at `at`. */
const storeSnapshot = (thing: string, at: Date): Promise<string> => storeObject(snapshotKey(thing, newRequestId(at), at));

beforeAll(async () => {
  t = await startTestDevcloud({ broker: 'aedes', cameras: 2 });
  token = t.dc.viewer.issuer.accessToken();
  const now = Date.now();
  // Newest first: today, 400 days ago, 800 days ago.
  for (const daysAgo of [0, 400, 800]) sparse.push(await storeSnapshot('camera-1', new Date(now - daysAgo * DAY - 60_000)));
});
afterAll(async () => {
  await t?.cleanup();
});

describe('history: bounded listings per request', () => {
  it.each([
    ['a snapshot key in 2040', 'camera-1/2040/12/07/20401207T000000000Z-00000000.jpg'],
    ['a snapshot key in year 9999', 'camera-1/9999/12/31/99991231T000000000Z-00000000.jpg'],
    ['a day in 2040', '2040-12-07'],
  ])('answers a cursor later than now (%s) with 400 naming before, without listing S3', async (_name, before) => {
    const answer = await api<{ message: string }>(`/api/cameras/camera-1/snapshots?before=${encodeURIComponent(before)}`);
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/^before \(.*\) is later than now/);
    expect(answer.lists).toBe(0);
  });

  it('refuses a far-future event cursor the same way', async () => {
    const answer = await api<{ message: string }>(`/api/cameras/camera-1/events?before=${encodeURIComponent(eventKey('camera-1', 'motion', new Date('9999-01-01T00:00:00Z')))}`);
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/^before \(.*\) is later than now/);
    expect(answer.lists).toBe(0);
  });

  it('a sparse history (pictures 400 days apart) pages newest first with next, each page within the budget', async () => {
    const first = await api<{ items: ImageRef[]; next: string | null }>('/api/cameras/camera-1/snapshots?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.items.map((i) => i.key)).toEqual(sparse.slice(0, 2));
    expect(first.body.next).toBe(sparse[1]);
    // A day-by-day walk would list 400 times to reach the second picture.
    expect(first.lists).toBeLessThanOrEqual(MAX_LISTINGS_PER_PAGE);
    const second = await api<{ items: ImageRef[]; next: string | null }>(`/api/cameras/camera-1/snapshots?limit=2&before=${encodeURIComponent(first.body.next!)}`);
    expect(second.body.items.map((i) => i.key)).toEqual(sparse.slice(2));
    expect(second.body.next).toBeNull();
    expect(second.lists).toBeLessThanOrEqual(MAX_LISTINGS_PER_PAGE);
  });

  it('when the budget runs out first, the page ends early with a next that goes on where it stopped', async () => {
    const bucket = devBucket();
    const seen: string[] = [];
    let before: string | undefined;
    let pages = 0;
    do {
      const lists = t.dc.s3.stats.lists;
      const page = await history(bucket, { thing: 'camera-1', limit: 10, now: new Date(), presignSeconds: 60, before, maxListings: 12 });
      expect(t.dc.s3.stats.lists - lists).toBeLessThanOrEqual(12);
      seen.push(...page.items.map((i) => i.key));
      before = page.next ?? undefined;
      pages += 1;
    } while (before !== undefined && pages < 30);
    expect(seen).toEqual(sparse);
    expect(pages).toBeGreaterThan(1);
  });
});

describe('event listing: keys dated outside the camera’s window', () => {
  it('an event stored with a key dated 2015, 2021, 0001 or 9999 is not listed, and the page stays within the budget', async () => {
    // The grant's policy refuses these dates now (upload-grant.test.ts), but an object stored under an
    // older grant, or dated inside the policy's decade yet outside the window (2021), is still there.
    const now = new Date();
    const good = eventKey('camera-1', 'motion', new Date(now.getTime() - 60_000));
    await uploadEventPictures(t.dc, 'camera-1', [good], JPEG);
    for (const at of ['2015-01-01T00:00:00Z', '2021-06-01T00:00:00Z', '0001-01-01T00:00:00Z', '9999-06-01T00:00:00Z']) {
      await storeObject(eventKey('camera-1', 'motion', new Date(at)));
    }
    const page = await api<{ items: EventImageRef[]; next: string | null }>('/api/cameras/camera-1/events');
    expect(page.status).toBe(200);
    expect(page.body.items.map((i) => i.key)).toEqual([good]);
    expect(page.body.next).toBeNull();
    expect(page.lists).toBeLessThanOrEqual(MAX_LISTINGS_PER_PAGE);
  });
});

describe('fleet page', () => {
  it("camera-2 reporting camera-1's key shows no picture; camera-1's newest is found in bounded listings", async () => {
    const update = (thing: string, reported: unknown): void => {
      t.dc.store.update({ thing, shadow: 'cloudcam' }, JSON.stringify({ state: { reported } }));
    };
    update('camera-2', { connected: true, snapshot: { id: newRequestId(new Date()), status: 'uploaded', key: sparse[0], bytes: JPEG.length, ms: 5 } });
    // camera-1's last request failed: its newest picture comes from the bucket.
    update('camera-1', { connected: true, snapshot: { id: newRequestId(new Date()), status: 'failed', error: 'camera busy', ms: 5 } });
    const page = await api<{ cameras: CameraSummary[] }>('/api/cameras');
    expect(page.status).toBe(200);
    const [one, two] = page.body.cameras as [CameraSummary, CameraSummary];
    expect(two.name).toBe('camera-2');
    expect(two.lastRequest?.status).toBe('uploaded');
    expect(two.latest).toBeNull();
    expect(one.latest?.key).toBe(sparse[0]);
    // Two cameras, each a bounded search (oldest key, a probe or two, the newest day), not the whole prefix.
    expect(page.lists).toBeLessThanOrEqual(2 * 6);
  });

  it('a foreign reported key is reported once per camera, however often the fleet is polled', async () => {
    const ignored: Array<[string, string]> = [];
    const handle = createViewerApi({
      verifier: { verify: async () => ({ username: 'viewer' }) },
      directory: staticDirectory(() => ['camera-1', 'camera-2']),
      // camera-2 keeps reporting camera-1's picture as its own.
      shadows: { get: async (thing) => (thing === 'camera-2' ? { state: { reported: { snapshot: { id: 'x', status: 'uploaded', key: sparse[0], bytes: 4 } } } } : undefined) },
      bucket: devBucket(),
      requestSnapshot: () => Promise.reject(new Error('not in this test')),
      shareSecret: async () => Buffer.alloc(32, 1),
      revocations: bucketRevocations(devBucket()),
      live: { signalling: notInThisTest, publish: () => Promise.reject(new Error('not in this test')) },
      onIgnored: (thing, why) => ignored.push([thing, why]),
    });
    for (let poll = 0; poll < 3; poll++) {
      const res = await handle({ method: 'GET', path: '/api/cameras', query: new URLSearchParams(), headers: { authorization: 'Bearer x' }, body: '', origin: 'http://127.0.0.1' });
      expect(res.status).toBe(200);
      expect((JSON.parse(res.body) as { cameras: CameraSummary[] }).cameras[1]!.latest).toBeNull();
    }
    expect(ignored).toEqual([['camera-2', "reported.snapshot.key is under another camera's prefix (camera-1/)"]]);
  });
});
