import { afterEach, describe, expect, it } from 'vitest';
import { h264SourceProvider } from '../../devcloud/camera/h264/source.js';
import { readCaptureTimeSei } from '../../devcloud/camera/h264/slices.js';
import { startRtspServer, type RtspServer, type RtspServerOptions } from '../../devcloud/camera/rtsp/server.js';
import { createDigestVerifier, type DigestAlgorithm, type DigestVerifier } from '../digest.js';
import { RtspError } from './errors.js';
import { NAL, nalType } from './h264.js';
import type { RtpPacket } from './rtp.js';
import { openRtspStream, type RtspStream } from './session.js';

/**
 * The agent's RTSP client against the simulated camera's RTSP server, over real sockets: Digest as
 * the camera offers it, DESCRIBE/SETUP/PLAY interleaved, frames in order, Renew-Stream, keep-alive,
 * TEARDOWN. The server follows RFC 2326 and Axis's RTSP behaviour (see the server's header).
 */

const USER = { username: 'viewer', password: 'correct horse' };
const fixed = (c = USER) => ({ current: () => Promise.resolve(c) });

let server: RtspServer | undefined;
let stream: RtspStream | undefined;
afterEach(async () => {
  await stream?.close();
  await server?.close();
  stream = undefined;
  server = undefined;
});

async function camera(over: Partial<RtspServerOptions> & { algorithms?: DigestAlgorithm[]; gopFrames?: number } = {}): Promise<RtspServer> {
  const auth: DigestVerifier = over.auth ?? createDigestVerifier({ realm: 'AXIS_ACCC8E000001', users: { [USER.username]: USER.password }, algorithms: over.algorithms ?? ['SHA-256', 'MD5'] });
  server = await startRtspServer({ host: '127.0.0.1', source: h264SourceProvider({ gopFrames: over.gopFrames ?? 1000 }), ...over, auth });
  return server;
}

/** Access units reassembled from packets (single NAL units and FU-A), for checking what arrived. */
function collector() {
  const packets: RtpPacket[] = [];
  const units: { nalTypes: number[]; seq?: number; keyframe: boolean }[] = [];
  let current: Buffer[] = [];
  let fu: Buffer[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    packets,
    units,
    onRtp: (p: RtpPacket): void => {
      packets.push(p);
      const t = nalType(p.payload[0] ?? 0);
      if (t === NAL.fuA) {
        fu.push((p.payload[1] ?? 0) & 0x80 ? Buffer.from([((p.payload[0] ?? 0) & 0xe0) | ((p.payload[1] ?? 0) & 0x1f)]) : Buffer.alloc(0), p.payload.subarray(2));
        if ((p.payload[1] ?? 0) & 0x40) {
          current.push(Buffer.concat(fu));
          fu = [];
        }
      } else {
        current.push(Buffer.from(p.payload));
      }
      if (p.marker) {
        const sei = current.find((n) => nalType(n[0] ?? 0) === NAL.sei);
        units.push({ nalTypes: current.map((n) => nalType(n[0] ?? 0)), seq: sei && readCaptureTimeSei(sei)?.seq, keyframe: current.some((n) => nalType(n[0] ?? 0) === NAL.idr) });
        current = [];
        for (const w of waiters.filter((w) => units.length >= w.n)) w.resolve();
      }
    },
    until(n: number): Promise<void> {
      return units.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

describe('RTSP client against the simulated camera', () => {
  for (const algorithms of [['SHA-256', 'MD5'], ['MD5']] as DigestAlgorithm[][]) {
    it(`authenticates with Digest (${algorithms[0]}), plays, and receives whole frames in order starting with a keyframe`, async () => {
      const cam = await camera({ algorithms });
      const c = collector();
      stream = await openRtspStream({ url: `${cam.url}&resolution=320x180&fps=15`, credentials: fixed(), onRtp: c.onRtp });
      expect(stream.track).toMatchObject({ payloadType: 96, clockRate: 90000, packetizationMode: 1, profileLevelId: '42e00c' });
      expect(stream.track.sps).toMatchObject({ width: 320, height: 180, profileIdc: 66, levelIdc: 12 });
      expect(stream.track.parameterSets.map((s) => nalType(s[0] ?? 0))).toEqual([NAL.sps, NAL.pps]);
      expect(stream.track.control).toMatch(/\/axis-media\/media\.amp\/trackID=1$/);
      await c.until(6);
      expect(c.packets[0]?.keyframe).toBe(true);
      expect(c.units[0]?.nalTypes).toEqual([NAL.sps, NAL.pps, NAL.sei, NAL.idr]);
      expect(c.units.slice(1, 6).every((u) => !u.keyframe && u.nalTypes.join() === `${NAL.sei},${NAL.slice}`)).toBe(true);
      // RTP sequence numbers without gaps, timestamps non-decreasing per frame, frame counter consecutive
      for (let i = 1; i < c.packets.length; i++) expect(c.packets[i]?.sequenceNumber).toBe(((c.packets[i - 1]?.sequenceNumber ?? 0) + 1) & 0xffff);
      const seqs = c.units.map((u) => u.seq ?? -1);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe((seqs[i - 1] ?? 0) + 1);
      expect(cam.sessions).toBe(1);
    });
  }

  it('refuses wrong credentials with an auth error and leaves no session', async () => {
    const cam = await camera();
    const err = await openRtspStream({ url: cam.url, credentials: fixed({ ...USER, password: 'wrong' }), onRtp: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RtspError);
    expect(err).toMatchObject({ kind: 'auth', status: 401 });
    expect((err as Error).message).toContain('"viewer"');
    expect((err as Error).message).not.toContain('wrong');
    expect(cam.sessions).toBe(0);
  });

  it('Basic is answered only when allowed and the camera is on loopback; otherwise a clear auth error', async () => {
    const basic: DigestVerifier = {
      challenges: () => ['Basic realm="AXIS"'],
      verify: (a) => (a === `Basic ${Buffer.from(`${USER.username}:${USER.password}`).toString('base64')}` ? { ok: true, username: USER.username } : { ok: false, stale: false }),
    };
    const cam = await camera({ auth: basic });
    const refused = await openRtspStream({ url: cam.url, credentials: fixed(), onRtp: () => undefined }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ kind: 'auth' });
    expect((refused as Error).message).toMatch(/without a Digest challenge.*enable Digest/);
    const c = collector();
    stream = await openRtspStream({ url: `${cam.url}&resolution=320x180`, credentials: fixed(), basicOnLoopback: true, onRtp: c.onRtp });
    await c.until(1);
  });

  it('Renew-Stream makes the next frame a keyframe', async () => {
    const cam = await camera({ gopFrames: 100_000 });
    const c = collector();
    stream = await openRtspStream({ url: `${cam.url}&resolution=320x180&fps=30`, credentials: fixed(), onRtp: c.onRtp });
    await c.until(4);
    expect(c.units.filter((u) => u.keyframe)).toHaveLength(1);
    const before = c.units.length;
    await stream.requestKeyframe();
    await c.until(before + 3);
    expect(c.units.slice(before).some((u) => u.keyframe)).toBe(true);
    expect(c.units.filter((u) => u.keyframe)).toHaveLength(2);
  });

  it('TEARDOWN ends the camera session and the stream resolves without error', async () => {
    const cam = await camera();
    const c = collector();
    stream = await openRtspStream({ url: `${cam.url}&resolution=320x180`, credentials: fixed(), onRtp: c.onRtp });
    await c.until(2);
    expect(cam.sessions).toBe(1);
    await stream.close();
    expect(await stream.ended).toBeUndefined();
    await expect.poll(() => cam.sessions).toBe(0);
  });

  it('keep-alive (GET_PARAMETER at half the session timeout) holds the session past its timeout', async () => {
    const cam = await camera({ sessionTimeoutS: 2 });
    const c = collector();
    stream = await openRtspStream({ url: `${cam.url}&resolution=320x180&fps=5`, credentials: fixed(), onRtp: c.onRtp });
    expect(stream.sessionTimeoutS).toBe(2);
    await new Promise((r) => setTimeout(r, 3000));
    const frames = c.units.length;
    await c.until(frames + 2);
    expect(cam.sessions).toBe(1);
  }, 10_000);

  it('a camera that stops sending video ends the stream with a timeout error', async () => {
    const cam = await camera();
    const c = collector();
    // One frame per second against a 300 ms stall limit: the gap after the first frame is a stall.
    const s = await openRtspStream({ url: `${cam.url}&resolution=320x180&fps=1`, credentials: fixed(), stallTimeoutMs: 300, onRtp: c.onRtp });
    const ended = await s.ended;
    expect(ended).toBeInstanceOf(RtspError);
    expect(ended).toMatchObject({ kind: 'timeout', message: expect.stringMatching(/no video from the camera .* for 300 ms/) as unknown });
    await expect.poll(() => cam.sessions).toBe(0); // the connection is closed, so is the camera's session
  });
});
