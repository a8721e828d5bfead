/**
 * devcloud's control API: malformed requests get 400, foreign Host headers (DNS rebinding) 403, and a
 * request a web page can send (CSRF: a foreign Origin, a cross-site Sec-Fetch-Site, a body that is not
 * JSON) 403 or 415 with no effect. What a page can send without a CORS preflight is the Fetch
 * standard's "CORS-safelisted" request (text/plain, form types; fetch.spec.whatwg.org); the issue's
 * reproduction drove this API with `fetch(url, {mode: 'no-cors', method: 'POST', body})`.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { goodRequest, rawExchange } from '../helpers/raw-http.js';
import { devcloudJobsAdmin } from '../../src/cloud/jobs-admin.js';
import { buildManifest } from '../../src/packaging/manifest.js';
import { VapixClient } from '../../src/protocol/vapix/client.js';

let t: TestDevcloud;

/** A request as a script sends it: JSON content type, no Origin, plus any headers given. */
function jsonRequest(method: string, path: string, body = '', headers: Record<string, string> = {}): string {
  const all = { host: '127.0.0.1', 'content-type': 'application/json', connection: 'close', 'content-length': String(Buffer.byteLength(body)), ...headers };
  const lines = Object.entries(all).flatMap(([name, value]) => (value === '' ? [] : [`${name}: ${value}`]));
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}
let port: number;

beforeAll(async () => {
  t = await startTestDevcloud({ broker: 'aedes' });
  port = Number(new URL(t.dc.info.control.url).port);
});
afterAll(async () => {
  await t?.cleanup();
});

describe('devcloud control API', () => {
  it('answers a bad percent-encoding in the path with 400 and keeps serving', async () => {
    const bad = await rawExchange(port, jsonRequest('PUT', '/cameras/%E0%A4%A/faults'));
    expect(bad.status).toBe(400);
    expect(bad.response).toContain('not valid percent-encoding');
    expect((await rawExchange(port, goodRequest('GET', '/health'))).status).toBe(200);
  });

  it.each(['//', '/\\', '//evil.example/health'])('answers %j with a status, not a crash', async (path) => {
    const answer = await rawExchange(port, goodRequest('GET', path));
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect((await rawExchange(port, goodRequest('GET', '/health'))).status).toBe(200);
  });

  it('answers a request addressed to another host name with 403 (DNS rebinding)', async () => {
    const rebound = await rawExchange(port, goodRequest('PUT', '/s3/faults', `attacker.example:${port}`));
    expect(rebound.status).toBe(403);
    expect(rebound.response).toContain('only requests addressed to 127.0.0.1, localhost or [::1]');
    expect(rebound.response).toContain('attacker.example');
  });

  it('serves requests addressed to localhost, 127.0.0.1 and [::1]', async () => {
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      expect((await rawExchange(port, goodRequest('GET', '/health', host))).status).toBe(200);
    }
    const res = await fetch(`${t.dc.info.control.url}/health`);
    expect(res.status).toBe(200);
  });

  it('installs an unpacked package on a camera: its parameters exist, its restarts are counted (test-package)', async () => {
    const manifest = buildManifest({ schema: '2.1.0', appName: 'cloudcam', friendlyName: 'cloudcam', vendor: 'cloudcam', vendorUrl: 'https://example.com', vendorId: '0123456789', version: '0.1.0', arch: 'aarch64', minOsVersion: '12.0' });
    const apps = async (): Promise<unknown> => (await (await fetch(`${t.dc.info.control.url}/cameras/camera-1/apps`)).json());
    expect(await apps()).toEqual({ apps: [] });
    const post = (body: unknown): Promise<Response> => fetch(`${t.dc.info.control.url}/cameras/camera-1/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await post({ manifest: { acapPackageConf: {} } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain('lacks acapPackageConf.setup.appName');
    expect((await post({ manifest })).status).toBe(204);
    expect(await apps()).toEqual({ apps: [{ name: 'cloudcam', version: '0.1.0', status: 'Running', runs: 1 }] });
    const cam = t.dc.info.cameras['camera-1'];
    if (!cam) throw new Error('devcloud has no camera-1');
    const admin = new VapixClient({ baseUrl: cam.httpUrl, username: cam.username, password: cam.password, timeoutMs: 5000 });
    expect(await admin.listParams('cloudcam')).toMatchObject({ 'cloudcam.LiveRtspUsername': '', 'cloudcam.LiveRtspPassword': '' });
    expect((await admin.call200('GET', '/axis-cgi/applications/control.cgi?action=restart&package=cloudcam')).body.toString().trim()).toBe('OK');
    expect(await apps()).toEqual({ apps: [{ name: 'cloudcam', version: '0.1.0', status: 'Running', runs: 2 }] });
    expect((await fetch(`${t.dc.info.control.url}/cameras/camera-9/apps`)).status).toBe(404);
  });

  it('the jobs endpoints get the same Host check: a rebound cancel is 403 and cancels nothing', async () => {
    const admin = await devcloudJobsAdmin(t.dir);
    await admin.createJob({ jobId: 'host-check', things: ['camera-1'], document: { operation: 'cloudcam.restart' } });
    for (const request of [goodRequest('POST', '/jobs/host-check/cancel', `attacker.example:${port}`), goodRequest('GET', '/jobs/host-check', `attacker.example:${port}`)]) {
      expect((await rawExchange(port, request)).status).toBe(403);
    }
    expect((await admin.describeJob('host-check')).status).toBe('IN_PROGRESS');
    expect((await rawExchange(port, jsonRequest('POST', '/jobs/host-check/cancel'))).status).toBe(204);
    expect((await admin.describeJob('host-check')).status).toBe('CANCELED');
  });

  it('a malformed jobs request gets 400 or 404 with a message, and the API keeps serving', async () => {
    const post = (body: string): Promise<Response> => fetch(`${t.dc.info.control.url}/jobs`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const notJson = await post('{"jobId":');
    expect(notJson.status).toBe(400);
    const noThings = await post('{"jobId":"x","document":{}}');
    expect(noThings.status).toBe(400);
    expect(((await noThings.json()) as { message: string }).message).toMatch(/things must be an array/);
    expect((await fetch(`${t.dc.info.control.url}/jobs/x/y/z`)).status).toBe(404);
    expect((await fetch(`${t.dc.info.control.url}/jobs/no-such-job`)).status).toBe(404);
    expect((await fetch(`${t.dc.info.control.url}/health`)).status).toBe(200);
  });

  describe('a request a web page can send is refused and changes nothing (CSRF)', () => {
    // Every route that changes something, with a body the route would otherwise accept.
    const routes = [
      ['PUT', '/cameras/camera-1/faults', '{"status":503}'],
      ['POST', '/cameras/camera-1/events', '{"topic":"tns1:VideoSource/MotionAlarm","data":{"State":"1"}}'],
      ['PUT', '/s3/faults', '{"failNext":{"status":503,"count":5}}'],
      ['POST', '/things/camera-1/snapshot', ''],
      ['POST', '/jobs', '{"jobId":"forged","things":["camera-1"],"document":{"operation":"cloudcam.restart"}}'],
      ['POST', '/jobs/csrf-victim/cancel', ''],
      ['POST', '/cameras/camera-1/apps', '{"manifest":{"acapPackageConf":{"setup":{"appName":"forged","version":"1.0.0"}}}}'],
    ] as const;
    // What `fetch(url, {mode: 'no-cors', method, body})` from a page elsewhere sends.
    const page = (origin: string, site: string): Record<string, string> => ({ origin, 'sec-fetch-site': site, 'sec-fetch-mode': 'no-cors', 'content-type': 'text/plain;charset=UTF-8' });
    const attempts: Array<[string, Record<string, string>, number]> = [
      ['a page on another site', page('http://attacker.example', 'cross-site'), 403],
      ['a page on another loopback port', page('http://127.0.0.1:1', 'same-site'), 403],
      ['a JSON body from a foreign origin (a preflight would have been needed)', { origin: 'http://attacker.example', 'content-type': 'application/json' }, 403],
      ['a browser that sends no Origin, cross-site', { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }, 403],
      ['text/plain with no Origin at all', { 'content-type': 'text/plain' }, 415],
      ['a form post', { 'content-type': 'application/x-www-form-urlencoded' }, 415],
      ['no content type', { 'content-type': '' }, 415],
    ];

    it.each(attempts)('%s: every control route refuses it', async (_name, headers, status) => {
      const admin = await devcloudJobsAdmin(t.dir);
      const victim = 'csrf-victim';
      if (!t.dc.jobs.job(victim)) await admin.createJob({ jobId: victim, things: ['camera-1'], document: { operation: 'cloudcam.restart' } });
      const camera = t.dc.cameras.get('camera-1')!;
      const effects = [vi.spyOn(camera, 'setFaults'), vi.spyOn(camera.events, 'fire'), vi.spyOn(t.dc.s3, 'setFaults'), vi.spyOn(t.dc.handler, 'handle'), vi.spyOn(t.dc.jobs, 'createJob'), vi.spyOn(t.dc.jobs, 'cancelJob'), vi.spyOn(camera.apps, 'install')];
      try {
        for (const [method, path, body] of routes) {
          const answer = await rawExchange(port, jsonRequest(method, path, body, headers));
          expect(answer.status, `${method} ${path}`).toBe(status);
          expect(answer.response).toMatch(status === 403 ? /does not answer web pages/ : /needs Content-Type: application\/json/);
        }
        for (const effect of effects) expect(effect).not.toHaveBeenCalled();
      } finally {
        for (const effect of effects) effect.mockRestore();
      }
      expect(t.dc.jobs.jobIds()).not.toContain('forged');
      expect((await admin.describeJob(victim)).status).toBe('IN_PROGRESS');
    });

    it("the API's own origin and a typed-in address (Sec-Fetch-Site: none) are served", async () => {
      const own = await rawExchange(port, jsonRequest('PUT', '/s3/faults', '{}', { origin: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' }));
      expect(own.status).toBe(204);
      expect((await rawExchange(port, jsonRequest('GET', '/health', '', { 'sec-fetch-site': 'none', 'content-type': '' }))).status).toBe(200);
      expect((await rawExchange(port, jsonRequest('PUT', '/s3/faults', '{}', { 'content-type': 'application/json; charset=utf-8' }))).status).toBe(204);
    });
  });
});
