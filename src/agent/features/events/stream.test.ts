import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createLogger } from '../../../lib/log.js';
import { fixedCredentials } from '../../../protocol/vapix/auth.js';
import type { CameraEvent } from '../../../protocol/vapix/events.js';
import { startCameraSimulator, type CameraSimulator } from '../../../devcloud/camera/simulator.js';
import { createEventStream, type EventStream } from './stream.js';

const log = createLogger({ name: 'test', level: 'silent' });
const MOTION = 'tns1:VideoSource/MotionAlarm';
let cam: CameraSimulator;
let stream: EventStream | undefined;

beforeAll(async () => {
  cam = await startCameraSimulator({ name: 'events-cam', username: 'root', password: 'pass' });
});
afterAll(async () => {
  await cam.stop();
});
afterEach(async () => {
  await stream?.stop();
  stream = undefined;
});

function open(password = 'pass', baseUrl = cam.httpUrl): { s: EventStream; events: CameraEvent[]; next: () => Promise<CameraEvent> } {
  const events: CameraEvent[] = [];
  let waiter: ((e: CameraEvent) => void) | undefined;
  const s = createEventStream({
    baseUrl,
    credentials: fixedCredentials({ username: 'root', password }),
    topicFilters: [MOTION],
    log,
    backoff: { minMs: 10, maxMs: 50 },
    onEvent: (e) => {
      events.push(e);
      waiter?.(e);
    },
  });
  stream = s;
  s.start();
  return { s, events, next: () => new Promise((resolve) => (waiter = resolve)) };
}

/** Waits for a condition the stream's own callbacks make true (no fixed sleeps). */
async function until(cond: () => boolean, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const fire = (data: Record<string, string>, topic = MOTION) => cam.events.fire({ topic, at: new Date('2026-12-01T05:00:00.123Z'), source: { VideoSourceConfigurationToken: '0' }, data });

describe('camera event stream', () => {
  it('authenticates with Digest on the upgrade, configures its filters and receives events', async () => {
    const { s, next } = open();
    await s.configured();
    const got = next();
    expect(fire({ State: '1' }, 'tns1:Device/tnsaxis:IO/Port')).toBe(0); // filtered by the camera
    expect(fire({ State: '1' })).toBe(1);
    expect(await got).toEqual({ topic: MOTION, at: new Date('2026-12-01T05:00:00.123Z'), source: { VideoSourceConfigurationToken: '0' }, data: { State: '1' } });
  });

  it('reconnects after the camera drops the session and receives again', async () => {
    const { s, next } = open();
    await s.configured();
    const sessions = s.stats.sessions;
    cam.events.dropAll();
    await until(() => s.stats.connected && s.stats.sessions > sessions);
    const got = next();
    fire({ State: '1' });
    expect((await got).data).toEqual({ State: '1' });
  });

  it('opens the stream on the service-account host with the D-Bus credentials, which the main host refuses', async () => {
    const local = await startCameraSimulator({ name: 'sa-cam', username: 'root', password: 'pass', serviceAccountHost: '127.0.0.12' });
    try {
      const sa = local.serviceAccounts!;
      const { username, password } = sa.issue('cloudcam');
      const on = (baseUrl: string) => {
        const s = createEventStream({ baseUrl, credentials: fixedCredentials({ username, password }), topicFilters: [MOTION], log, backoff: { minMs: 10, maxMs: 50 }, onEvent: () => undefined });
        s.start();
        return s;
      };
      const good = on(sa.url);
      await good.configured();
      expect(local.events.sessions).toBe(1);
      await good.stop();
      const refused = on(local.httpUrl);
      await until(() => refused.stats.authRefused >= 1);
      expect(refused.stats.sessions).toBe(0);
      await refused.stop();
    } finally {
      await local.stop();
    }
  });

  it('gets no session with a wrong password', async () => {
    const { s } = open('wrong');
    const before = cam.stats.requests;
    await until(() => s.stats.authRefused >= 3); // refused, backed off, tried again
    expect(s.stats.sessions).toBe(0);
    expect(cam.events.sessions).toBe(0);
    expect(cam.stats.requests).toBe(before); // upgrades are not VAPIX requests
  });

  it('drops a session that sends a message over 64 KB unread, and reconnects', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    let sessions = 0;
    wss.on('connection', (ws) => {
      sessions += 1;
      const first = sessions === 1;
      ws.on('message', () => {
        ws.send('{"apiVersion":"1.0","method":"events:configure","data":{}}');
        const data = first ? { State: '1', junk: 'x'.repeat(70_000) } : { State: '1' };
        ws.send(JSON.stringify({ method: 'events:notify', params: { notification: { topic: MOTION, timestamp: 1737794941428, message: { data } } } }));
      });
    });
    const port = (wss.address() as { port: number }).port;
    const { s, events, next } = open('pass', `http://127.0.0.1:${port}`);
    const got = await next();
    expect(got.data).toEqual({ State: '1' });
    expect(events).toHaveLength(1);
    expect(s.stats.sessions).toBe(2);
    await s.stop();
    await new Promise((r) => wss.close(r));
  });

  it('survives hostile messages: counted, not delivered, not thrown', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    wss.on('connection', (ws) => {
      ws.on('message', () => {
        ws.send('{"apiVersion":"1.0","method":"events:configure","data":{}}');
        ws.send('not json');
        ws.send(Buffer.from([1, 2, 3]));
        ws.send('{"method":"events:notify","params":{"notification":{"topic":{"a":1},"timestamp":1,"message":{}}}}');
        ws.send(`{"method":"events:notify","params":{"notification":{"topic":"${MOTION}","timestamp":1737794941428,"message":{"data":{"State":["1"]}}}}}`);
        ws.send(`{"method":"events:notify","params":{"notification":{"topic":"${MOTION}","timestamp":1737794941428,"message":{"data":{"State":"1"}}}}}`);
      });
    });
    const port = (wss.address() as { port: number }).port;
    const { s, next } = open('pass', `http://127.0.0.1:${port}`);
    const good = await next();
    expect(good.data).toEqual({ State: '1' });
    expect(s.stats.invalid).toBe(4);
    await s.stop();
    await new Promise((r) => wss.close(r));
  });
});
