import { describe, expect, it } from 'vitest';
import { BitReader, parseSps, unescapeRbsp } from '../../../protocol/rtsp/h264.js';
import { BitWriter, nalUnit } from './bit-writer.js';
import { FrameEncoder } from './encoder.js';
import { levelFor, profileLevelId, writePps, writeSps } from './parameter-sets.js';
import { Picture } from './picture.js';
import { readCaptureTimeSei } from './slices.js';

/**
 * The generator's syntax against ITU-T H.264 (clauses cited in each file), read back with the
 * agent's own parser (src/protocol/rtsp/h264.ts). The decisive check, that a real decoder agrees,
 * is decode-in-chromium.test.ts.
 */

describe('Exp-Golomb and emulation prevention', () => {
  it('ue(v)/se(v) follow table 9-2 and 9-3', () => {
    const w = new BitWriter();
    for (const v of [0, 1, 2, 3, 7, 8, 255, 65535]) w.ue(v);
    for (const v of [0, 1, -1, 2, -2, 1000, -1000]) w.se(v);
    w.trailingBits();
    const r = new BitReader(w.finish());
    expect([0, 1, 2, 3, 7, 8, 255, 65535].map(() => r.ue())).toEqual([0, 1, 2, 3, 7, 8, 255, 65535]);
    expect([0, 1, -1, 2, -2, 1000, -1000].map(() => r.se())).toEqual([0, 1, -1, 2, -2, 1000, -1000]);
    // codeNum 3 is 00100 (table 9-2)
    const w3 = new BitWriter();
    w3.ue(3);
    w3.trailingBits();
    expect(w3.finish()).toEqual(Buffer.from([0b00100100]));
  });

  it('escapes 00 00 0x (x <= 3) with an 0x03 and leaves other bytes alone (7.4.1)', () => {
    const rbsp = Buffer.from([0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x04, 0x00, 0x00, 0x03, 0x80]);
    const nal = nalUnit(3, 5, rbsp);
    expect(nal).toEqual(Buffer.from([0x65, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x04, 0x00, 0x00, 0x03, 0x03, 0x80]));
    expect(unescapeRbsp(nal.subarray(1))).toEqual(rbsp);
    // no start code prefix anywhere in the NAL unit
    for (let i = 0; i + 2 < nal.length; i++) expect(nal[i] === 0 && nal[i + 1] === 0 && (nal[i + 2] ?? 9) <= 2).toBe(false);
  });
});

describe('SPS and PPS', () => {
  it('720p at 15 fps: Constrained Baseline level 3.1 (42e01f), size read back by the agent', () => {
    const f = { width: 1280, height: 720, fps: 15 };
    expect(levelFor(f)).toBe(31);
    expect(profileLevelId(f)).toBe('42e01f');
    const sps = writeSps(f);
    expect(sps[0]).toBe(0x67); // nal_ref_idc 3, type 7
    expect(parseSps(sps)).toEqual({ profileIdc: 66, constraintFlags: 0xe0, levelIdc: 31, profileLevelId: '42e01f', width: 1280, height: 720 });
  });

  it('chooses the lowest level of table A-1 and crops sizes that are not whole macroblocks', () => {
    expect(levelFor({ width: 320, height: 240, fps: 15 })).toBe(12); // 300 MBs, 4500 MB/s
    expect(levelFor({ width: 640, height: 480, fps: 30 })).toBe(30);
    expect(levelFor({ width: 1920, height: 1080, fps: 30 })).toBe(40);
    expect(parseSps(writeSps({ width: 1920, height: 1080, fps: 30 }))).toMatchObject({ width: 1920, height: 1080, levelIdc: 40 });
    expect(parseSps(writeSps({ width: 322, height: 182, fps: 5 }))).toMatchObject({ width: 322, height: 182 });
    expect(() => writeSps({ width: 1281, height: 720, fps: 15 })).toThrow(/even numbers/);
    expect(() => writeSps({ width: 4096, height: 2304, fps: 60 })).toThrow(/exceeds every H.264 level/);
  });

  it('SPS fields after the size: frame_mbs_only, VUI timing and no reordering (E.1.1)', () => {
    const r = new BitReader(unescapeRbsp(writeSps({ width: 1280, height: 720, fps: 15 }).subarray(1)));
    r.u(24);
    expect([r.ue(), r.ue(), r.ue(), r.ue(), r.u(1)]).toEqual([0, 0, 2, 1, 0]); // sps id, log2_max_frame_num-4, poc type 2, 1 ref, no gaps
    expect([r.ue() + 1, r.ue() + 1]).toEqual([80, 45]);
    expect([r.u(1), r.u(1), r.u(1), r.u(1)]).toEqual([1, 1, 0, 1]); // frame_mbs_only, direct_8x8, no cropping, VUI
    expect([r.u(1), r.u(1), r.u(1), r.u(3), r.u(1), r.u(1), r.u(8), r.u(8), r.u(8), r.u(1)]).toEqual([0, 0, 1, 5, 0, 1, 1, 1, 1, 0]);
    expect([r.u(1), r.u(32), r.u(32), r.u(1)]).toEqual([1, 1, 30, 1]); // 15 fps = time_scale / (2 * num_units_in_tick)
    expect([r.u(1), r.u(1), r.u(1), r.u(1), r.u(1)]).toEqual([0, 0, 0, 1, 1]);
    expect([r.ue(), r.ue(), r.ue(), r.ue(), r.ue(), r.ue()]).toEqual([0, 0, 15, 15, 0, 1]); // max_num_reorder_frames 0, max_dec_frame_buffering 1
    expect([r.u(1), r.bitsLeft < 8]).toEqual([1, true]); // rbsp_stop_one_bit
  });

  it('PPS: CAVLC, one reference, deblocking control present (7.3.2.2)', () => {
    const pps = writePps();
    expect(pps[0]).toBe(0x68);
    const r = new BitReader(unescapeRbsp(pps.subarray(1)));
    expect([r.ue(), r.ue(), r.u(1), r.u(1), r.ue(), r.ue(), r.ue(), r.u(1), r.u(2), r.se(), r.se(), r.se(), r.u(1), r.u(1), r.u(1), r.u(1)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1]);
  });
});

describe('frames', () => {
  const format = { width: 320, height: 192, fps: 15 };
  const bg = new Picture(20, 12);
  bg.y.fill(100);
  bg.u.fill(128);
  bg.v.fill(128);

  it('first frame is SPS, PPS, SEI, IDR with every macroblock intra coded; then P frames code only what changed', () => {
    const enc = new FrameEncoder(format, bg);
    const idr = enc.encode(1_000_000, undefined, false);
    expect(idr.keyframe).toBe(true);
    expect(idr.nalUnits.map((n) => (n[0] ?? 0) & 31)).toEqual([7, 8, 6, 5]);
    expect(idr.codedMacroblocks).toBe(240);
    // A flat grey picture: Intra_16x16 prediction leaves next to nothing to code but the clock's
    // text; as I_PCM it was 240 * 386 bytes.
    expect(idr.nalUnits[3]?.length).toBeLessThan(3000);
    const p = enc.encode(1_000_067, undefined, false);
    expect(p.keyframe).toBe(false);
    expect(p.nalUnits.map((n) => (n[0] ?? 0) & 31)).toEqual([6, 1]);
    expect(p.nalUnits[1]?.[0]).toBe(0x41); // nal_ref_idc 2: a reference picture
    expect(p.codedMacroblocks).toBeGreaterThan(0); // clock and counter
    expect(p.codedMacroblocks).toBeLessThan(30);
    expect(p.nalUnits[1]?.length).toBeLessThan(30 * 400);
    const moving = enc.encode(1_000_133, { left: 100, top: 100, width: 60, height: 40 }, false);
    expect(moving.codedMacroblocks).toBeGreaterThan(p.codedMacroblocks + 10);
    // The object's macroblocks are intra coded (a flat fill and its edges: tens of bytes each), the
    // clock's stay I_PCM (386 bytes each).
    const objectBytes = (moving.nalUnits[1]?.length ?? 0) - (p.nalUnits[1]?.length ?? 0);
    expect(objectBytes).toBeLessThan((moving.codedMacroblocks - p.codedMacroblocks) * 100);
    expect(enc.encode(1_000_200, undefined, true).keyframe).toBe(true); // Renew-Stream
  });

  it('each frame carries its capture time and counter in a user_data_unregistered SEI', () => {
    const enc = new FrameEncoder(format, bg);
    const times = [1_765_000_000_123.456, 1_765_000_000_190];
    const got = times.map((t) => readCaptureTimeSei(enc.encode(t, undefined, false).nalUnits.find((n) => ((n[0] ?? 0) & 31) === 6) ?? Buffer.alloc(0)));
    expect(got).toEqual([
      { captureTimeMs: 1_765_000_000_123.456, seq: 0 },
      { captureTimeMs: 1_765_000_000_190, seq: 1 },
    ]);
  });
});
