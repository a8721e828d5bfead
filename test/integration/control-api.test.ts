/** devcloud's control API: malformed requests get 400, foreign Host headers (DNS rebinding) 403. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { goodRequest, rawExchange } from '../helpers/raw-http.js';

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
});
