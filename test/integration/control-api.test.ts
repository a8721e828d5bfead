/** devcloud's control API: malformed requests get 400, foreign Host headers (DNS rebinding) 403. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { goodRequest, rawExchange } from '../helpers/raw-http.js';
import { devcloudJobsAdmin } from '../../src/cloud/jobs-admin.js';

let t: TestDevcloud;
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
    const bad = await rawExchange(port, goodRequest('PUT', '/cameras/%E0%A4%A/faults'));
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

  it('the jobs endpoints get the same Host check: a rebound cancel is 403 and cancels nothing', async () => {
    const admin = await devcloudJobsAdmin(t.dir);
    await admin.createJob({ jobId: 'host-check', things: ['camera-1'], document: { operation: 'cloudcam.restart' } });
    for (const request of [goodRequest('POST', '/jobs/host-check/cancel', `attacker.example:${port}`), goodRequest('GET', '/jobs/host-check', `attacker.example:${port}`)]) {
      expect((await rawExchange(port, request)).status).toBe(403);
    }
    expect((await admin.describeJob('host-check')).status).toBe('IN_PROGRESS');
    expect((await rawExchange(port, goodRequest('POST', '/jobs/host-check/cancel'))).status).toBe(204);
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
});
