/**
 * The agent's live feature against devcloud as `cloudcam devcloud` runs it: the broker over mTLS
 * carries the cloud's LiveRequest, the IoT credentials provider gives the camera role credentials,
 * devcloud's KVS stand-in signals, the simulated camera serves RTSP. Viewers are werift peers that
 * sign in as the viewer API would (its key pair presigns ConnectAsViewer). Nothing here sleeps: every
 * wait is for an event (a frame, a shadow update, the camera's RTSP session count, a log line).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, startTestDevcloud, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import { RTCP_SILENCE_MS } from '../../src/agent/features/live/viewer-peer.js';
import { LIVE_REQUEST_MAX_AGE_MS } from '../../src/protocol/live-request.js';
import { readFile } from 'node:fs/promises';
import { fetchRoleCredentials } from '../../src/protocol/iot-credentials.js';
import { presignSignalingUrl } from '../../src/protocol/kvs-presign.js';
import { connectPeer } from '../helpers/signaling-peer.js';
import { connectViewer, ensureChannel, requestLive, waitForLiveReport, type TestViewer } from '../helpers/live-viewer.js';

const thing = 'camera-1';
const IDLE_SECONDS = 2;
const MAX_VIEWERS = 2;

describe('agent live view against devcloud', () => {
  let t: TestDevcloud;
  let a: TestAgent;
  const viewers: TestViewer[] = [];

  /** Every role session devcloud's credentials provider issued (to look for their secrets in the logs). */
  const issued: { secretAccessKey: string; sessionToken: string }[] = [];

  beforeAll(async () => {
    t = await startTestDevcloud({ broker: 'aedes' });
    const iam = t.dc.live.iam;
    const issue = iam.issueSession.bind(iam);
    iam.issueSession = (...args) => {
      const c = issue(...args);
      issued.push(c);
      return c;
    };
    await ensureChannel(t.dc, thing);
    a = await startTestAgent(t.dc, thing, (c) => {
      c.live.idleSeconds = IDLE_SECONDS;
      c.live.maxViewers = MAX_VIEWERS;
    });
    await waitForLiveReport(t.dc, thing, (r) => r.state === 'off');
  });
  afterAll(async () => {
    for (const v of viewers) await v.close().catch(() => undefined);
    await a?.stop();
    await t?.cleanup();
  });

  it('ignores a live request older than LIVE_REQUEST_MAX_AGE_MS by the cloud’s clock', async () => {
    const requestId = await requestLive(t.dc, thing, new Date(Date.now() - LIVE_REQUEST_MAX_AGE_MS - 30_000));
    const stale = await a.waitForLog((l) => l['event'] === 'live.request-stale' && l['requestId'] === requestId);
    expect(Number(stale['ageMs'])).toBeGreaterThan(LIVE_REQUEST_MAX_AGE_MS);
    expect(a.logs.some((l) => l['event'] === 'live.request')).toBe(false);
    expect(t.dc.cameras.get(thing)!.rtsp.sessions).toBe(0);
  });

  it('streams the camera to two viewers over one RTSP session, refuses the third, and stops within idleSeconds + 2 s after they leave', async () => {
    const rtsp = t.dc.cameras.get(thing)!.rtsp;
    expect(rtsp.sessions).toBe(0);
    await requestLive(t.dc, thing);
    await waitForLiveReport(t.dc, thing, (r) => r.state === 'on');

    const first = await connectViewer(t.dc, thing, 'viewer-one');
    viewers.push(first);
    const answer = await first.answer();
    expect(answer).toMatch(/profile-level-id=42e01f/);
    expect(answer).toMatch(/packetization-mode=1/);
    await first.frames(15);
    expect(first.keyframePackets).toBeGreaterThan(0);
    await waitForLiveReport(t.dc, thing, (r) => r.state === 'on' && r.viewers === 1);

    const second = await connectViewer(t.dc, thing, 'viewer-two');
    viewers.push(second);
    await second.answer();
    await second.frames(15);
    expect(rtsp.sessions).toBe(1);
    expect(await waitForLiveReport(t.dc, thing, (r) => r.viewers === 2)).toMatchObject({ state: 'on', viewers: 2, maxViewers: MAX_VIEWERS });

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
    expect(await waitForLiveReport(t.dc, thing, (r) => r.state === 'off')).toMatchObject({ state: 'off', viewers: 0 });

    // The camera's RTSP account is used only on the camera-agent hop: nothing the viewers received
    // over signalling (answers, candidates) names it or the stream's address.
    const camera = t.dc.info.cameras[thing]!;
    const signalled = [first, second, third].flatMap((v) => v.received).join('\n');
    expect(signalled).toContain('SDP_ANSWER');
    for (const secret of [camera.password, `${camera.username}:`, 'rtsp://', 'axis-media']) expect(signalled).not.toContain(secret);
  });

  it('reconnects to signalling after GO_AWAY while a viewer watches, and keeps streaming', async () => {
    await requestLive(t.dc, thing);
    await waitForLiveReport(t.dc, thing, (r) => r.state === 'on');
    const viewer = await connectViewer(t.dc, thing, 'viewer-stays');
    viewers.push(viewer);
    await viewer.answer();
    await viewer.frames(5);
    // A newer MASTER takes precedence (KVS developer guide): devcloud sends the agent GO_AWAY. Here the
    // newer master is the camera's own identity (as a copy of it would be; docs/security.md).
    const channelArn = await ensureChannel(t.dc, thing);
    const device = t.dc.info.devices[thing]!;
    const ca = await readFile(t.dc.info.caPath);
    const credentials = await fetchRoleCredentials({ endpoint: t.dc.info.live.credentialsProvider.url, roleAlias: t.dc.info.live.credentialsProvider.roleAlias, thingName: thing, tls: { cert: await readFile(device.certPath), key: await readFile(device.keyPath), ca } });
    const endpoint = new URL('/master', t.dc.info.live.kvs.signallingUrl.replace(/^https:/, 'wss:')).toString();
    const intruder = await connectPeer(await presignSignalingUrl({ endpoint, channelArn, role: 'MASTER', region: t.dc.info.live.kvs.region, credentials }), ca);
    await a.waitForLog((l) => l['event'] === 'live.signalling-reconnect' && l['why'] === 'signalling sent GO_AWAY');
    // The agent's new connection takes the channel back: the intruder gets GO_AWAY in turn.
    expect((await intruder.next(15_000)).messageType).toBe('GO_AWAY');
    const before = viewer.frameCount;
    await viewer.frames(before + 10);
    // And a new viewer is answered over the new connection.
    const late = await connectViewer(t.dc, thing, 'viewer-late');
    viewers.push(late);
    await late.answer();
    await late.frames(5);
    await viewer.close();
    await late.close();
    await waitForLiveReport(t.dc, thing, (r) => r.state === 'off', 30_000);
  }, 60_000);

  it('never logs the role credentials, a signature or the camera password (debug level, a whole session)', () => {
    expect(issued.length).toBeGreaterThan(0);
    const text = a.logs.map((l) => JSON.stringify(l)).join('\n');
    expect(text).toContain('live.started');
    const camera = t.dc.info.cameras[thing]!;
    for (const secret of [...issued.flatMap((c) => [c.secretAccessKey, c.sessionToken]), camera.password, 'X-Amz-Signature', 'X-Amz-Security-Token', 'X-Amz-Credential']) {
      expect(text).not.toContain(secret);
    }
  });
});
