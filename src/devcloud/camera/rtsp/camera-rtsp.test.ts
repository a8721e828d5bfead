/**
 * The simulated camera's RTSP side as the agent meets it: the agent's own RTSP client
 * (src/protocol/rtsp/, openRtspStream) against startCameraSimulator, per firmware profile (each
 * profile's Digest offer, profiles.ts), with the camera's accounts; the stream is the camera's scene
 * (the moving object while motion is active); the session count is what live tests wait on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RtspError } from '../../../protocol/rtsp/errors.js';
import { NAL, nalType, parseSps, type SpsInfo } from '../../../protocol/rtsp/h264.js';
import type { RtpPacket } from '../../../protocol/rtsp/rtp.js';
import { openRtspStream, type RtspStream } from '../../../protocol/rtsp/session.js';
import { MOTION_TOPIC } from '../motion.js';
import type { CameraProfileName } from '../profiles.js';
import { startCameraSimulator, type CameraSimulator, type CameraSimulatorOptions } from '../simulator.js';

const cameras: CameraSimulator[] = [];
const streams: RtspStream[] = [];
afterEach(async () => {
  await Promise.all(streams.splice(0).map((s) => s.close()));
  await Promise.all(cameras.splice(0).map((c) => c.stop()));
});

async function camera(over: Partial<CameraSimulatorOptions> = {}): Promise<CameraSimulator> {
  const cam = await startCameraSimulator({ name: 'cam-rtsp', username: 'root', password: 'pass', ...over });
  cameras.push(cam);
  return cam;
}

/** Opens a stream with these credentials; `onRtp` sees every packet. */
async function open(cam: CameraSimulator, password = cam.password, query = '', onRtp: (p: RtpPacket) => void = () => undefined, basicOnLoopback = false): Promise<RtspStream> {
  const s = await openRtspStream({
    url: `${cam.rtsp.url}${query}`,
    credentials: { current: () => Promise.resolve({ username: cam.username, password }) },
    basicOnLoopback,
    timeoutMs: 5000,
    onRtp,
  });
  streams.push(s);
  return s;
}

/** The SPS the camera sends in-band in front of its first IDR picture. */
function firstInbandSps(cam: CameraSimulator, query: string): Promise<{ stream: RtspStream; sps: SpsInfo }> {
  return new Promise((resolve, reject) => {
    let stream: RtspStream | undefined;
    let sps: SpsInfo | undefined;
    const done = () => {
      if (stream && sps) resolve({ stream, sps });
    };
    open(cam, cam.password, query, (p) => {
      if (sps || nalType(p.payload[0] ?? 0) !== NAL.sps) return;
      sps = parseSps(p.payload);
      done();
    })
      .then((s) => {
        stream = s;
        done();
      })
      .catch(reject);
  });
}

describe('camera simulator RTSP', () => {
  it.each<CameraProfileName>(['axis-os-12', 'axis-os-11', 'axis-os-10'])(
    '%s: the agent client authenticates as the profile offers and gets H.264 whose SPS says the stream resolution',
    async (profile) => {
      const cam = await camera({ profile });
      const { stream, sps } = await firstInbandSps(cam, '');
      expect([sps.width, sps.height]).toEqual([1280, 720]); // the default stream (stream-url.ts)
      expect(stream.track.sps).toMatchObject({ width: 1280, height: 720 });
      const small = await firstInbandSps(cam, '&resolution=640x360&fps=10');
      expect([small.sps.width, small.sps.height]).toEqual([640, 360]);
      expect(cam.rtsp.sessions).toBe(2);
    },
  );

  it('refuses a wrong password with 401 (no session), and a resolution the camera does not have with 400', async () => {
    const cam = await camera();
    const refused = await open(cam, 'wrong').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RtspError);
    expect(refused).toMatchObject({ kind: 'auth', status: 401 });
    const odd = await open(cam, cam.password, '&resolution=1000x1000').catch((e: unknown) => e);
    expect(odd).toMatchObject({ status: 400 });
    expect(cam.rtsp.sessions).toBe(0);
  });

  it('a camera set to Basic authentication asks for Basic on RTSP too', async () => {
    const cam = await camera({ auth: { http: { scheme: 'basic' }, https: { scheme: 'basic' } } });
    await expect(open(cam)).rejects.toThrow(/without a Digest challenge/);
    const s = await open(cam, cam.password, '', () => undefined, true);
    expect(s.sessionId).not.toBe('');
  });

  it('counts open sessions: one per stream, back to zero after TEARDOWN, observable without polling', async () => {
    const cam = await camera();
    const a = await open(cam);
    await open(cam);
    expect(cam.rtsp.sessions).toBe(2);
    await expect(cam.rtsp.untilSessions((n) => n === 0, 50)).rejects.toThrow(/still 2/);
    const one = cam.rtsp.untilSessions((n) => n === 1, 5000);
    await a.close();
    expect(await one).toBe(1);
    await Promise.all(streams.splice(0).map((s) => s.close()));
    expect(await cam.rtsp.untilSessions((n) => n === 0, 5000)).toBe(0);
  });

  it('streams the moving object while motion is active: its frames code far more macroblocks than idle ones', async () => {
    const cam = await camera();
    /** Mean bytes of the next `count` non-key access units (grouped by RTP timestamp). */
    const meanFrameBytes = (count: number) =>
      new Promise<number>((resolve, reject) => {
        const frames = new Map<number, { bytes: number; key: boolean }>();
        open(cam, cam.password, '&resolution=320x180', (p) => {
          const f = frames.get(p.timestamp) ?? { bytes: 0, key: false };
          f.bytes += p.payload.length;
          f.key ||= p.keyframe;
          frames.set(p.timestamp, f);
          const complete = [...frames.values()].slice(0, -1).filter((x) => !x.key);
          if (complete.length >= count) resolve(complete.slice(0, count).reduce((sum, x) => sum + x.bytes, 0) / count);
        }).catch(reject);
      });
    const idle = await meanFrameBytes(8);
    cam.events.fire({ topic: MOTION_TOPIC, at: new Date(), source: {}, data: { State: '1' } });
    const moving = await meanFrameBytes(8);
    // An I_PCM macroblock is 384 bytes; the moving box changes a few columns of them every frame.
    expect(moving).toBeGreaterThan(idle + 1000);
  });

  it('stop() ends open RTSP sessions and the stream with them', async () => {
    const cam = await camera();
    const s = await open(cam);
    await cam.stop();
    cameras.splice(0);
    expect(await s.ended).toBeInstanceOf(RtspError);
    expect(cam.rtsp.sessions).toBe(0);
  });
});
