import { generateKeyPairSync, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShareToken } from '../../src/viewer/api/share-token.js';
import { viewerContentSecurityPolicy } from '../../src/viewer/csp.js';
import { MAX_THUMBNAIL_BYTES, THUMBNAIL_WIDTH, type ThumbnailOutcome } from '../../src/viewer/thumbnail.js';
import type { CameraSummary, ImageRef } from '../../src/viewer/api/fleet.js';
import { startTestAgent, startTestDevcloud, waitForReport, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import { uploadEventPictures } from '../helpers/event-upload.js';
import { eventKey } from '../../src/protocol/upload-grant.js';
import type { EventImageRef } from '../../src/viewer/api/types.js';

const thing = 'camera-1';

describe('viewer API on devcloud: authentication, fleet, history, snapshot now, thumbnails, share links', () => {
  let t: TestDevcloud;
  let a: TestAgent;
  let token: string;
  let firstKey: string;

  const api = (p: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> => {
    const bearer = init.token === undefined ? token : init.token;
    return fetch(`${t.dc.viewer.url}${p}`, { ...init, redirect: 'manual', headers: { ...(bearer !== null ? { authorization: `Bearer ${bearer}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) } });
  };
  const thumbnailOf = (key: string): Promise<ThumbnailOutcome> =>
    new Promise((resolve) => {
      const on = (r: ThumbnailOutcome): void => {
        if (r.key === key) {
          t.dc.viewer.off('thumbnail', on);
          resolve(r);
        }
      };
      t.dc.viewer.on('thumbnail', on);
    });

  beforeAll(async () => {
    t = await startTestDevcloud({ broker: 'aedes', cameras: 2, thumbnails: true });
    token = t.dc.viewer.issuer.accessToken();
    const online = new Promise<string>((resolve) => {
      t.dc.rules.on('handled', (r) => {
        if (r.action === 'requested' && r.thing === thing) resolve(r.request.id);
      });
    });
    a = await startTestAgent(t.dc, thing);
    const report = await waitForReport(t.dc, thing, await online);
    expect(report.status).toBe('uploaded');
    firstKey = report.key!;
  });
  afterAll(async () => {
    await a?.stop();
    await t?.cleanup();
  });

  it('devcloud.json names the viewer and its dev sign-in', async () => {
    const info = JSON.parse(await readFile(path.join(t.dir, 'devcloud.json'), 'utf8')) as { viewer: { url: string; username: string; password: string } };
    expect(info.viewer).toEqual({ url: t.dc.viewer.url, username: 'viewer', password: t.dc.viewer.password });
    expect(info.viewer.password.length).toBeGreaterThanOrEqual(16);
  });

  it('serves the app with the CSP the AWS stack also sends (one source: src/viewer/csp.ts)', async () => {
    const res = await fetch(`${t.dc.viewer.url}/`);
    expect(res.headers.get('content-security-policy')).toBe(viewerContentSecurityPolicy({ images: t.dc.s3.url, signIn: t.dc.viewer.issuer.url, signalling: t.dc.info.live.kvs.signallingUrl.replace(/^https:/, 'wss:') }));
  });

  it('refuses every API call without a valid access token: none, forged, expired, for another client, an id token', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const [head, body] = t.dc.viewer.issuer.accessToken().split('.') as [string, string];
    const forged = `${head}.${body}.${sign('sha256', Buffer.from(`${head}.${body}`), privateKey).toString('base64url')}`;
    const cases: Record<string, string | null> = {
      none: null,
      garbage: 'not-a-jwt',
      forged,
      expired: t.dc.viewer.issuer.accessToken({}, -60),
      'other client': t.dc.viewer.issuer.accessToken({ client_id: 'someone-else' }),
      'id token': t.dc.viewer.issuer.accessToken({ token_use: 'id' }),
      'other issuer': t.dc.viewer.issuer.accessToken({ iss: 'http://127.0.0.1:1' }),
    };
    for (const [name, bearer] of Object.entries(cases)) {
      for (const [method, p] of [['GET', '/api/cameras'], ['POST', `/api/cameras/${thing}/snapshot`], ['GET', `/api/cameras/${thing}/snapshots`]] as const) {
        const res = await api(p, { method, token: bearer });
        expect(res.status, `${name}: ${method} ${p}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
    }
  });

  it('lists the fleet with presence, since, agent version, last request and the newest image', async () => {
    const res = await api('/api/cameras');
    expect(res.status).toBe(200);
    const { cameras, next } = (await res.json()) as { cameras: CameraSummary[]; next: string | null };
    expect(next).toBeNull();
    expect(cameras.map((c) => c.name)).toEqual(['camera-1', 'camera-2']);
    const [one, two] = cameras as [CameraSummary, CameraSummary];
    expect(one.online).toBe(true);
    expect(Date.parse(one.since!)).toBeLessThanOrEqual(Date.now());
    expect(one.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(one.lastRequest?.status).toBe('uploaded');
    expect(one.latest?.key).toBe(firstKey);
    const image = await fetch(one.latest!.imageUrl);
    expect(image.status).toBe(200);
    expect(Buffer.from(await image.arrayBuffer()).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(two).toMatchObject({ online: null, since: null, agentVersion: null, lastRequest: null, latest: null });
  });

  it('pages the fleet', async () => {
    const first = (await (await api('/api/cameras?limit=1')).json()) as { cameras: CameraSummary[]; next: string };
    expect(first.cameras.map((c) => c.name)).toEqual(['camera-1']);
    const second = (await (await api(`/api/cameras?limit=1&next=${first.next}`)).json()) as { cameras: CameraSummary[]; next: string | null };
    expect(second.cameras.map((c) => c.name)).toEqual(['camera-2']);
    expect(second.next).toBeNull();
    expect((await api('/api/cameras?limit=0')).status).toBe(400);
  });

  it('snapshot now: a new image, its thumbnail (320 px, <= 30 KB), newest first in the history', async () => {
    const res = await api(`/api/cameras/${thing}/snapshot`, { method: 'POST' });
    expect(res.status).toBe(202);
    const { id, key } = (await res.json()) as { id: string; key: string };
    const thumb = thumbnailOf(key);
    const report = await waitForReport(t.dc, thing, id);
    expect(report.status).toBe('uploaded');
    const made = await thumb;
    expect(made).toMatchObject({ thumbnail: `thumbnails/${key}` });
    const file = await readFile(path.join(t.dc.info.s3.dir, 'cloudcam-snapshots', 'thumbnails', key));
    expect(file.length).toBeLessThanOrEqual(MAX_THUMBNAIL_BYTES);
    expect((await sharp(file).metadata()).width).toBe(THUMBNAIL_WIDTH);

    const page = (await (await api(`/api/cameras/${thing}/snapshots?limit=1`)).json()) as { items: ImageRef[]; next: string | null };
    expect(page.items.map((i) => i.key)).toEqual([key]);
    expect(page.next).toBe(key);
    const older = (await (await api(`/api/cameras/${thing}/snapshots?limit=5&before=${encodeURIComponent(page.next!)}`)).json()) as { items: ImageRef[]; next: string | null };
    expect(older.items.map((i) => i.key)).toEqual([firstKey]);
    expect(older.next).toBeNull();
    const thumbnail = await fetch(page.items[0]!.thumbnailUrl);
    expect(thumbnail.status).toBe(200);
  });

  it('lists event snapshots with their trigger and frame, newest first, thumbnailed and shareable; never in the history', async () => {
    const jpeg = await readFile(path.join(t.dc.info.s3.dir, 'cloudcam-snapshots', firstKey));
    const t0 = Date.now();
    const keys = [eventKey(thing, 'motion', new Date(t0 - 2000)), eventKey(thing, 'door', new Date(t0 - 1000), 'pre'), eventKey(thing, 'door', new Date(t0 - 1000))];
    const thumbs = keys.map(thumbnailOf);
    await uploadEventPictures(t.dc, thing, keys, jpeg);
    expect((await Promise.all(thumbs)).map((o) => ('thumbnail' in o ? o.thumbnail : o.skipped))).toEqual(keys.map((k) => `thumbnails/${k}`));
    const page = (await (await api(`/api/cameras/${thing}/events?limit=2`)).json()) as { items: EventImageRef[]; next: string | null };
    expect(page.items.map((i) => [i.key, i.trigger, i.frame])).toEqual([
      [keys[1], 'door', 'pre'],
      [keys[2], 'door', 'event'],
    ]);
    expect(page.items[0]!.at).toBe(new Date(t0 - 1000).toISOString());
    expect((await fetch(page.items[0]!.thumbnailUrl)).status).toBe(200);
    const older = (await (await api(`/api/cameras/${thing}/events?before=${encodeURIComponent(page.next!)}`)).json()) as { items: EventImageRef[]; next: string | null };
    expect(older.items.map((i) => [i.key, i.trigger])).toEqual([[keys[0], 'motion']]);
    expect(older.next).toBeNull();
    const history = (await (await api(`/api/cameras/${thing}/snapshots?limit=100`)).json()) as { items: ImageRef[] };
    expect(history.items.filter((i) => i.key.includes('/events/'))).toEqual([]);
    expect((await api(`/api/cameras/camera-2/events?before=${encodeURIComponent(keys[0]!)}`)).status).toBe(400);
    const share = await api('/api/shares', { method: 'POST', body: JSON.stringify({ key: keys[2], ttlSeconds: 3600 }) });
    expect(share.status).toBe(201);
  });

  it('refuses unknown cameras and keys of other cameras', async () => {
    expect((await api('/api/cameras/camera-9/snapshot', { method: 'POST' })).status).toBe(404);
    expect((await api('/api/cameras/camera-2/snapshots?before=' + encodeURIComponent(firstKey))).status).toBe(400);
    expect((await api('/api/shares', { method: 'POST', body: JSON.stringify({ key: 'camera-9/2026/12/01/20261201T000000000Z-00000000.jpg' }) })).status).toBe(404);
    expect((await api('/api/shares', { method: 'POST', body: JSON.stringify({ key: firstKey, ttlSeconds: 60 }) })).status).toBe(400);
  });

  it('a share link opens without a token (302 to a short presigned GET) until revoked', async () => {
    const res = await api('/api/shares', { method: 'POST', body: JSON.stringify({ key: firstKey, ttlSeconds: 86400 }) });
    expect(res.status).toBe(201);
    const share = (await res.json()) as { id: string; url: string; expiresAt: string };
    expect(share.url.startsWith(`${t.dc.viewer.url}/s/`)).toBe(true);
    expect(Date.parse(share.expiresAt) - Date.now()).toBeGreaterThan(86000_000);

    const open = await fetch(share.url, { redirect: 'manual' });
    expect(open.status).toBe(302);
    const location = open.headers.get('location')!;
    expect(new URL(location).searchParams.get('X-Amz-Expires')).toBe('60');
    expect((await fetch(location)).status).toBe(200);

    expect((await api(`/api/shares/${share.id}`, { method: 'DELETE', token: null })).status).toBe(401);
    expect((await api(`/api/shares/${share.id}`, { method: 'DELETE' })).status).toBe(200);
    const refused = await fetch(share.url, { redirect: 'manual' });
    expect(refused.status).toBe(410);
    expect(await refused.text()).toMatch(/revoked/);
  });

  it('refuses an expired share link and one signed with another key', async () => {
    const { shareKey } = JSON.parse(await readFile(path.join(t.dir, 'viewer.json'), 'utf8')) as { shareKey: string };
    const secret = Buffer.from(shareKey, 'base64');
    const expired = createShareToken({ secret, key: firstKey, ttlSeconds: 3600, now: new Date(Date.now() - 3601_000) }).token;
    const res = await fetch(`${t.dc.viewer.url}/s/${expired}`, { redirect: 'manual' });
    expect(res.status).toBe(410);
    expect(await res.text()).toMatch(/expired/);
    const foreign = createShareToken({ secret: Buffer.alloc(32, 7), key: firstKey, ttlSeconds: 3600, now: new Date() }).token;
    expect((await fetch(`${t.dc.viewer.url}/s/${foreign}`, { redirect: 'manual' })).status).toBe(403);
  });

  it('shows a camera offline when its agent stops', async () => {
    const offline = new Promise<void>((resolve) => {
      const on = (key: { thing: string }): void => {
        const shadow = t.dc.store.get({ thing, shadow: 'cloudcam' }) as { state: { reported?: { connected?: boolean } } };
        if (key.thing === thing && shadow.state.reported?.connected === false) {
          t.dc.store.off('updated', on);
          resolve();
        }
      };
      t.dc.store.on('updated', on);
    });
    await a.stop();
    await offline;
    const { cameras } = (await (await api('/api/cameras')).json()) as { cameras: CameraSummary[] };
    expect(cameras[0]).toMatchObject({ name: thing, online: false });
  });
});

