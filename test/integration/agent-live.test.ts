/**
 * The agent's live feature against devcloud as `cloudcam devcloud` runs it: the broker over mTLS
 * carries the cloud's LiveRequest, the IoT credentials provider gives the camera role credentials,
 * devcloud's KVS stand-in signals, the simulated camera serves RTSP. Viewers are werift peers that
 * sign in as the viewer API would (its key pair presigns ConnectAsViewer). Nothing here sleeps: every
 * wait is for an event (a frame, a shadow update, the camera's RTSP session count, a log line).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveReport } from '../../src/protocol/live-request.js';
import type { UpdateResult } from '../../src/devcloud/shadow/store.js';
import { startTestAgent, startTestDevcloud, waitForConnected, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import { RTCP_SILENCE_MS } from '../../src/agent/features/live/viewer-peer.js';
import { connectViewer, ensureChannel, requestLive, type TestViewer } from '../helpers/live-viewer.js';

const thing = 'camera-1';
const IDLE_SECONDS = 2;
const MAX_VIEWERS = 2;

/** Resolves with the stored reported.live after the first shadow update whose report satisfies `match`. */
function waitForLiveReport(t: TestDevcloud, match: (r: LiveReport) => boolean, timeoutMs = 20_000): Promise<LiveReport> {
  const { dc } = t;
  let now: LiveReport | undefined;
  try {
    now = (dc.store.get({ thing, shadow: dc.info.shadowName }) as { state?: { reported?: { live?: LiveReport } } }).state?.reported?.live;
  } catch {
    // no shadow yet
  }
  if (now && match(now)) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      dc.store.off('updated', on);
      reject(new Error(`no matching reported.live within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (key: { thing: string }, result: UpdateResult): void => {
      const live = (result.documents.current.state.reported as { live?: LiveReport } | undefined)?.live;
      if (key.thing !== thing || !live || !match(live)) return;
      clearTimeout(timer);
      dc.store.off('updated', on);
      resolve(live);
    };
    dc.store.on('updated', on);
  });
}

describe('agent live view against devcloud', () => {
  let t: TestDevcloud;
  let a: TestAgent;
  const viewers: TestViewer[] = [];

  beforeAll(async () => {
    t = await startTestDevcloud({ broker: 'aedes' });
    await ensureChannel(t.dc, thing);
    a = await startTestAgent(t.dc, thing, (c) => {
      c.live.idleSeconds = IDLE_SECONDS;
      c.live.maxViewers = MAX_VIEWERS;
    });
    await waitForConnected(a);
    await waitForLiveReport(t, (r) => r.state === 'off');
  });
  afterAll(async () => {
    for (const v of viewers) await v.close().catch(() => undefined);
    await a?.stop();
    await t?.cleanup();
  });

  it('streams the camera to two viewers over one RTSP session, refuses the third, and stops within idleSeconds + 2 s after they leave', async () => {
    const rtsp = t.dc.cameras.get(thing)!.rtsp;
    expect(rtsp.sessions).toBe(0);
    await requestLive(t.dc, thing);
    await waitForLiveReport(t, (r) => r.state === 'on');

    const first = await connectViewer(t.dc, thing, 'viewer-one');
    viewers.push(first);
    const answer = await first.answer();
    expect(answer).toMatch(/profile-level-id=42e01f/);
    expect(answer).toMatch(/packetization-mode=1/);
    await first.frames(15);
    expect(first.keyframePackets).toBeGreaterThan(0);
    await waitForLiveReport(t, (r) => r.state === 'on' && r.viewers === 1);

    const second = await connectViewer(t.dc, thing, 'viewer-two');
    viewers.push(second);
    await second.answer();
    await second.frames(15);
    expect(rtsp.sessions).toBe(1);
    expect(await waitForLiveReport(t, (r) => r.viewers === 2)).toMatchObject({ state: 'on', viewers: 2, maxViewers: MAX_VIEWERS });

    const third = await connectViewer(t.dc, thing, 'viewer-three');
    viewers.push(third);
    const refused = await a.waitForLog((l) => l['event'] === 'live.viewer-refused' && l['clientId'] === 'viewer-three');
    expect(String(refused['msg'])).toContain(`live.maxViewers is ${MAX_VIEWERS}`);
    await expect(third.answer(1500)).rejects.toThrow(/no signalling message/);

    await first.close();
    await second.close();
    await third.close();
    const closedAt = Date.now();
    // A werift viewer sends no DTLS close_notify (chromium does, and is seen at once): the agent
    // notices these two when their RTCP stops (RTCP_SILENCE_MS).
    const lastLeft = await a.waitForLog((l) => l['event'] === 'live.viewer-left' && l['viewers'] === 0 && l['clientId'] !== 'viewer-three', RTCP_SILENCE_MS + 4000);
    expect(Date.now() - closedAt).toBeLessThan(RTCP_SILENCE_MS + 3000);
    const leftAt = Date.parse(String(lastLeft['time']));
    await rtsp.untilSessions((n) => n === 0, (IDLE_SECONDS + 2) * 1000);
    expect(Date.now() - leftAt).toBeLessThan((IDLE_SECONDS + 2) * 1000);
    expect(await waitForLiveReport(t, (r) => r.state === 'off')).toMatchObject({ state: 'off', viewers: 0 });
  });
});
