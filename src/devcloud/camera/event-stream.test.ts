import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { digestAuthorization, parseDigestChallenges, pickChallenge } from '../../protocol/digest.js';
import { configureMessage, EVENT_STREAM_PATH } from '../../protocol/vapix/events.js';
import { apiListRequest, EVENT_STREAMING_API } from '../../protocol/vapix/discovery.js';
import { startCameraSimulator, type CameraSimulator } from './simulator.js';

/**
 * The simulator's event stream and API discovery behave as real Axis cameras do (issue 19): one
 * notification per matching filter, the state of property events right after configure, optional
 * timestamps, a clock that may be unset, and firmware without the API (absent from API discovery,
 * developer.axis.com/vapix/network-video/api-discovery-service; the WebSocket path 404).
 */
let cam: CameraSimulator;
beforeAll(async () => {
  cam = await startCameraSimulator({ name: 'stream-cam', username: 'root', password: 'pass' });
});
afterAll(async () => {
  await cam.stop();
});

/** A raw session: Digest on the upgrade, configure, collect every message. */
async function session(filters: string[]): Promise<{ messages: Record<string, unknown>[]; ws: WebSocket }> {
  const url = `${cam.httpUrl.replace('http:', 'ws:')}${EVENT_STREAM_PATH}`;
  const challenge = await new Promise<string | string[]>((resolve, reject) => {
    const probe = new WebSocket(url);
    probe.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.headers['www-authenticate'] ?? []);
      probe.terminate();
    });
    probe.on('error', reject);
  });
  const picked = pickChallenge(parseDigestChallenges(challenge));
  if (!picked) throw new Error('no digest challenge');
  const ws = new WebSocket(url, { headers: { Authorization: digestAuthorization(picked, { username: 'root', password: 'pass' }, { method: 'GET', uri: EVENT_STREAM_PATH }, 1) } });
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (d: Buffer) => messages.push(JSON.parse(d.toString('utf8')) as Record<string, unknown>));
  await new Promise((r) => ws.once('open', r));
  ws.send(configureMessage(filters));
  await until(() => messages.length > 0);
  return { messages, ws };
}

async function until(cond: () => boolean, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const notification = (m: Record<string, unknown>) => (m['params'] as { notification: { topic: string; timestamp?: number; message: { source: object; data: object } } }).notification;

describe('simulated event stream', () => {
  it('reports the state of property instances after configure, one copy per matching filter', async () => {
    const { messages, ws } = await session(['tns1:Device//.', 'tns1:Device/tnsaxis:IO/Port', 'tns1:VideoSource/tnsaxis:Tampering']);
    await until(() => messages.length >= 3);
    expect(messages[0]).toEqual({ apiVersion: '1.0', method: 'events:configure', data: {} });
    const reports = messages.slice(1).map(notification);
    expect(reports.map((n) => [n.topic, n.message.source, n.message.data])).toEqual([
      ['tns1:Device/tnsaxis:IO/Port', { port: '1' }, { state: '0' }],
      ['tns1:Device/tnsaxis:IO/Port', { port: '1' }, { state: '0' }],
    ]);
    // A stateless event: sent only when it happens, once per passing filter.
    expect(cam.events.fire({ topic: 'tns1:VideoSource/tnsaxis:Tampering', source: {}, data: { tampering: '1' } })).toBe(1);
    await until(() => messages.length === 4);
    ws.terminate();
  });

  it('stamps notifications with the camera clock (1970 when unset), or sends none without timestamps', async () => {
    const { messages, ws } = await session(['tns1:VideoSource/tnsaxis:Tampering']);
    cam.setClockOffset(-(Date.now() - 60_000));
    cam.events.fire({ topic: 'tns1:VideoSource/tnsaxis:Tampering', source: {}, data: { tampering: '1' } });
    cam.setClockOffset(0);
    cam.events.options.timestamps = false;
    cam.events.fire({ topic: 'tns1:VideoSource/tnsaxis:Tampering', source: {}, data: { tampering: '1' } });
    cam.events.options.timestamps = true;
    await until(() => messages.length === 3);
    const [unset, none] = messages.slice(1).map(notification);
    expect(unset?.timestamp).toBeLessThan(Date.UTC(1970, 0, 2));
    expect(none).not.toHaveProperty('timestamp');
    ws.terminate();
  });

  it('lists event-streaming-over-websocket in API discovery only when the firmware has it; without it the upgrade is 404', async () => {
    const ids = async () => {
      const url = `${cam.httpUrl}/axis-cgi/apidiscovery.cgi`;
      const challenge = pickChallenge(parseDigestChallenges((await fetch(url, { method: 'POST', body: apiListRequest() })).headers.get('www-authenticate') ?? ''));
      if (!challenge) throw new Error('no digest challenge');
      const authorization = digestAuthorization(challenge, { username: 'root', password: 'pass' }, { method: 'POST', uri: '/axis-cgi/apidiscovery.cgi' }, 1);
      const res = await fetch(url, { method: 'POST', body: apiListRequest(), headers: { authorization, 'content-type': 'application/json' } });
      return ((await res.json()) as { data: { apiList: { id: string }[] } }).data.apiList.map((a) => a.id);
    };
    expect(await ids()).toContain(EVENT_STREAMING_API);
    cam.events.options.enabled = false;
    try {
      expect(await ids()).not.toContain(EVENT_STREAMING_API);
      const status = await new Promise<number | undefined>((resolve) => {
        const ws = new WebSocket(`${cam.httpUrl.replace('http:', 'ws:')}${EVENT_STREAM_PATH}`);
        ws.on('error', () => undefined); // terminate() below fails the handshake on purpose
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode);
          ws.terminate();
        });
      });
      expect(status).toBe(404);
    } finally {
      cam.events.options.enabled = true;
    }
  });
});
