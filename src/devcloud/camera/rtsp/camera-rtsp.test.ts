/**
 * The simulated camera's RTSP side as the agent meets it: the agent's own RTSP client
 * (src/protocol/rtsp/, openRtspStream) against startCameraSimulator, per firmware profile (each
 * profile's Digest offer, profiles.ts), with the camera's accounts; the stream is the camera's scene
 * (the moving object while motion is active); the session count is what live tests wait on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RtspError } from '../../../protocol/rtsp/errors.js';
import { BitReader, NAL, nalType, parseSps, unescapeRbsp, type SpsInfo } from '../../../protocol/rtsp/h264.js';
import type { RtpPacket } from '../../../protocol/rtsp/rtp.js';
import { openRtspStream, type RtspStream } from '../../../protocol/rtsp/session.js';
import { MOTION_TOPIC, motionBand } from '../motion.js';
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

/**
 * The address of the first Intra_16x16 macroblock of one of the simulator's P slices, else undefined:
 * reads the slice header as h264/slices.ts writes it (7.3.3), then mb_skip_run / mb_type pairs
 * (7.3.4), stepping over I_PCM macroblocks (mb_type 30: alignment, 384 sample bytes); the first other
 * intra type (6..29, table 7-13) ends the walk, as its residual would need a full CAVLC parse.
 */
function firstIntraMacroblock(slice: Buffer): number | undefined {
  const rbsp = unescapeRbsp(slice.subarray(1));
  const r = new BitReader(rbsp);
  const total = rbsp.length * 8;
  r.ue(); // first_mb_in_slice
  r.ue(); // slice_type
  r.ue(); // pic_parameter_set_id
  r.u(4); // frame_num (log2_max_frame_num 4)
  r.u(1); // num_ref_idx_active_override_flag
  r.u(1); // ref_pic_list_modification_flag_l0
  r.u(1); // adaptive_ref_pic_marking_mode_flag
  r.se(); // slice_qp_delta
  r.ue(); // disable_deblocking_filter_idc
  let addr = 0;
  while (r.bitsLeft > 8) {
    addr += r.ue(); // mb_skip_run
    if (r.bitsLeft <= 8) return undefined;
    const mbType = r.ue();
    if (mbType !== 30) return mbType > 5 && mbType < 30 ? addr : undefined;
    while ((total - r.bitsLeft) % 8) r.u(1); // pcm_alignment_zero_bit
    for (let i = 0; i < 384; i++) r.u(8);
    addr++;
  }
  return undefined;
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

  it('refuses service-account credentials: they are valid on the local virtual host only (Axis ACAP docs; acap-documentation#113)', async () => {
    const cam = await camera({ serviceAccountHost: '127.0.0.12' });
    const account = cam.serviceAccounts!.issue('cloudcam');
    const s = await openRtspStream({ url: cam.rtsp.url, credentials: { current: () => Promise.resolve(account) }, onRtp: () => undefined }).catch((e: unknown) => e);
    expect(s).toMatchObject({ kind: 'auth', status: 401 });
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

  it('streams the moving object while motion is active: intra-coded macroblocks in its band, where idle frames have only the text', async () => {
    const cam = await camera();
    const mbWidth = 20; // 320x180
    const band = motionBand(320, 180);
    /** The macroblock row of each of the next `count` P slices' first intra-coded macroblock (undefined: none). */
    const intraRows = (count: number) =>
      new Promise<(number | undefined)[]>((resolve, reject) => {
        const rows: (number | undefined)[] = [];
        let nal: Buffer[] = [];
        open(cam, cam.password, '&resolution=320x180', (p) => {
          const type = nalType(p.payload[0] ?? 0);
          if (type === NAL.fuA) {
            const fuHeader = p.payload[1] ?? 0;
            if (fuHeader & 0x80) nal = [Buffer.from([((p.payload[0] ?? 0) & 0xe0) | (fuHeader & 0x1f)])];
            nal.push(p.payload.subarray(2));
            if (!(fuHeader & 0x40)) return;
          } else {
            nal = [p.payload];
          }
          const unit = Buffer.concat(nal);
          if (nalType(unit[0] ?? 0) !== NAL.slice || rows.length >= count) return;
          const addr = firstIntraMacroblock(unit);
          rows.push(addr === undefined ? undefined : Math.floor(addr / mbWidth));
          if (rows.length === count) resolve(rows);
        }).catch(reject);
      });
    // Idle: only the clock's and the counter's changes, which are I_PCM.
    expect(await intraRows(8)).toEqual(Array(8).fill(undefined));
    cam.events.fire({ topic: MOTION_TOPIC, at: new Date(), source: {}, data: { State: '1' } });
    const moving = (await intraRows(8)).filter((row) => row !== undefined);
    expect(moving.length).toBeGreaterThanOrEqual(6); // the object moves in (nearly) every frame
    for (const row of moving) expect(row).toBeGreaterThanOrEqual(Math.floor(band.top / 16));
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
