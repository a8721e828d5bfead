/**
 * `POST /api/cameras/{thing}/live` (live-contract, docs/viewer.md "Live"): each refusal, and what a
 * granted request does in which order. The KVS side and the publish are recorded here; the same route
 * against devcloud's real KVS stand-in is test/integration/viewer-live.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseLiveRequest, type LiveReport } from '../../protocol/live-request.js';
import { staticDirectory } from './fleet.js';
import { createViewerApi, type ViewerRequest } from './handler.js';
import type { LiveSignalling } from './live.js';
import { viewerClientId } from './live.js';
import type { LiveGrant } from './types.js';

const NOW = new Date('2026-12-07T22:00:00Z');

function setup(reported: Record<string, unknown> | undefined, username = 'viewer') {
  const calls: string[] = [];
  const published: { thing: string; payload: string }[] = [];
  const signalling: LiveSignalling = {
    ensureChannel: async (name) => (calls.push(`ensure ${name}`), `arn:aws:kinesisvideo:eu-north-1:123456789012:channel/${name}/1`),
    viewerEndpoints: async () => (calls.push('endpoints'), { wss: 'wss://v-1.kinesisvideo.eu-north-1.amazonaws.com', https: 'https://v-1.kinesisvideo.eu-north-1.amazonaws.com' }),
    iceServers: async (_arn, endpoint, clientId) => (calls.push(`ice ${endpoint} ${clientId}`), [{ urls: ['turn:1.2.3.4:443?transport=udp'], username: 'u', credential: 'p' }]),
    presignViewer: async ({ clientId, expiresSeconds }) => (calls.push(`presign ${clientId} ${expiresSeconds}`), `wss://v-1.kinesisvideo.eu-north-1.amazonaws.com/?X-Amz-ClientId=${clientId}`),
  };
  const api = createViewerApi({
    verifier: { verify: async (token) => (token === 'good' ? { username } : Promise.reject(new Error('bad token'))) },
    directory: staticDirectory(() => ['camera-1']),
    shadows: { get: async (thing) => (thing === 'camera-1' && reported ? { state: { reported } } : undefined) },
    bucket: undefined as never,
    requestSnapshot: () => Promise.reject(new Error('not in this test')),
    shareSecret: async () => Buffer.alloc(32, 1),
    revocations: { isRevoked: async () => false, revoke: async () => undefined },
    live: {
      signalling,
      publish: async (thing, request) => {
        calls.push('publish');
        published.push({ thing, payload: JSON.stringify(request) });
      },
    },
    now: () => NOW,
  });
  const post = (thing: string, token: string | null = 'good') => {
    const req: ViewerRequest = { method: 'POST', path: `/api/cameras/${thing}/live`, query: new URLSearchParams(), headers: token ? { authorization: `Bearer ${token}` } : {}, body: '', origin: 'https://viewer.example' };
    return api(req).then((res) => ({ status: res.status, body: JSON.parse(res.body) as Record<string, unknown> }));
  };
  return { post, calls, published };
}

const live = (over: Partial<LiveReport>): LiveReport => ({ state: 'on', viewers: 1, maxViewers: 4, since: NOW.toISOString(), ...over });

describe('POST /api/cameras/{thing}/live refusals', () => {
  it('401 without a token or with a bad one, before anything else happens', async () => {
    const s = setup({ connected: true });
    expect((await s.post('camera-1', null)).status).toBe(401);
    expect((await s.post('camera-1', 'forged')).status).toBe(401);
    expect(s.calls).toEqual([]);
  });

  it('404 for a camera that does not exist', async () => {
    const s = setup({ connected: true });
    expect((await s.post('camera-9')).status).toBe(404);
    expect(s.calls).toEqual([]);
  });

  it('409 offline when presence says disconnected or the camera never reported, and the camera is not asked', async () => {
    for (const reported of [{ connected: false }, {}, undefined]) {
      const s = setup(reported);
      const res = await s.post('camera-1');
      expect(res).toMatchObject({ status: 409, body: { reason: 'offline' } });
      expect(res.body['message']).toMatch(/camera-1 is offline/);
      expect(s.calls).toEqual([]);
    }
  });

  it('409 too-many-viewers when reported.live.viewers has reached maxViewers, and the camera is not asked', async () => {
    for (const report of [live({ viewers: 4, maxViewers: 4 }), live({ viewers: 2, maxViewers: 1, state: 'starting' })]) {
      const s = setup({ connected: true, live: report });
      const res = await s.post('camera-1');
      expect(res).toMatchObject({ status: 409, body: { reason: 'too-many-viewers' } });
      expect(s.calls).toEqual([]);
    }
  });

  it('lets a viewer in below the cap, and when live is off (a stale count from before does not block)', async () => {
    for (const report of [live({ viewers: 3, maxViewers: 4 }), live({ state: 'off', viewers: 4, maxViewers: 4 }), { state: 'nonsense' }]) {
      expect((await setup({ connected: true, live: report }).post('camera-1')).status).toBe(200);
    }
  });
});

describe('POST /api/cameras/{thing}/live granted', () => {
  it('ensures the channel, presigns a VIEWER URL for this user (5 min at most), gets ICE servers, then publishes the LiveRequest', async () => {
    const s = setup({ connected: true }, 'alice@example.com');
    const res = await s.post('camera-1');
    expect(res.status).toBe(200);
    const grant = res.body as unknown as LiveGrant;
    expect(grant.channelArn).toBe('arn:aws:kinesisvideo:eu-north-1:123456789012:channel/cloudcam-camera-1/1');
    expect(grant.clientId).toMatch(/^viewer\.alice_example\.com\.[0-9a-f]{12}$/);
    expect(grant.signalingUrl).toContain(`X-Amz-ClientId=${grant.clientId}`);
    expect(grant.iceServers).toEqual([{ urls: ['turn:1.2.3.4:443?transport=udp'], username: 'u', credential: 'p' }]);
    expect(Date.parse(grant.expiresAt) - NOW.getTime()).toBe(300_000);
    expect(s.calls[0]).toBe('ensure cloudcam-camera-1');
    expect(s.calls[1]).toBe('endpoints');
    expect(s.calls).toContain(`presign ${grant.clientId} 300`);
    expect(s.calls).toContain(`ice https://v-1.kinesisvideo.eu-north-1.amazonaws.com ${grant.clientId}`);
    expect(s.calls.at(-1)).toBe('publish');
    expect(s.published).toHaveLength(1);
    const request = parseLiveRequest(s.published[0]!.payload);
    expect(request.ok && request.value.at).toBe(NOW.toISOString());
    expect(s.published[0]!.thing).toBe('camera-1');
  });

  it('gives each press its own client id, within KVS\'s alphabet and never starting with AWS_', () => {
    const a = viewerClientId({ username: 'AWS_admin' });
    const b = viewerClientId({ username: 'AWS_admin' });
    expect(a).not.toBe(b);
    for (const id of [a, viewerClientId({ username: 'ö/ä "x"'.repeat(40) }), viewerClientId({ username: '' })]) {
      expect(id).toMatch(/^[a-zA-Z0-9_.-]{1,256}$/);
      expect(id.toUpperCase().startsWith('AWS_')).toBe(false);
    }
  });
});
