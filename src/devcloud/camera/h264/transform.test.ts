import { describe, expect, it } from 'vitest';
import {
  chromaQp,
  dequantize4x4,
  dequantizeChromaDc,
  dequantizeLumaDc,
  forward4x4,
  inverse4x4,
  quantize4x4,
  quantizeChromaDc,
  quantizeLumaDc,
} from './transform.js';

/**
 * The residual path against ITU-T H.264 (2016+) 8.5.9 to 8.5.12 (the decoder's scaling and inverse
 * transforms, which the encoder must match exactly) with values worked by hand from those formulas.
 */
const block = (values: number[]) => Int32Array.from(values);
const filled = (n: number, v: number): number[] => Array.from({ length: n }, () => v);

describe('4x4 transform and quantisation', () => {
  it('a flat residual of 10 at QP 26: one DC level of 3, rebuilt as exactly 10', () => {
    const w = new Int32Array(16);
    forward4x4(block(filled(16, 10)), w);
    expect(Array.from(w)).toEqual([160, ...filled(15, 0)]); // Cf X CfT: 16 * 10 at DC
    quantize4x4(w, 26, 0);
    // (160 * MF(2, 0) 10082 + 2^19 / 3) >> 19 = 3
    expect(Array.from(w)).toEqual([3, ...filled(15, 0)]);
    dequantize4x4(w, 26, 0);
    expect(w[0]).toBe(3 * 13 * 16); // LevelScale4x4(2, 0, 0) = 16 * 13, then << (26 / 6 - 4)
    const r = new Int32Array(16);
    inverse4x4(w, r);
    expect(Array.from(r)).toEqual(filled(16, 10)); // (624 + 32) >> 6
  });

  it('inverse transform: the >> 1 of odd coefficients and (x + 32) >> 6 rounding toward minus infinity (8.5.12.2)', () => {
    const r = new Int32Array(16);
    inverse4x4(block([0, 64, ...filled(14, 0)]), r);
    // row: e = (0, 0, 32, 64) -> f = (64, 32, -32, -64); columns carry it down; (f + 32) >> 6
    expect(Array.from(r)).toEqual([1, 1, 0, -1, 1, 1, 0, -1, 1, 1, 0, -1, 1, 1, 0, -1]);
    inverse4x4(block([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 67]), r);
    // d33 = 67: e = (0, 0, -67, 33) -> f = (33, -67, 67, -33) in row 3; each column then gives
    // h = (F >> 1, -F, F, -(F >> 1)), and -67 >> 1 is -34, not -33.
    expect(Array.from(r)).toEqual([0, -1, 1, 0, -1, 1, -1, 1, 1, -1, 1, -1, 0, 1, -1, 0]);
  });

  it('dequantisation scales by position class and qP / 6 (8.5.12.1, 8-315)', () => {
    const c = block(filled(16, 1));
    dequantize4x4(c, 13, 0); // qP % 6 = 1: v = 11, 18, 14; << 2
    expect(Array.from(c)).toEqual([44, 56, 44, 56, 56, 72, 56, 72, 44, 56, 44, 56, 56, 72, 56, 72]);
  });

  it('quantise then rebuild stays within a step of the source at QP 12', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 60 - 30;
    let worst = 0;
    for (let n = 0; n < 200; n++) {
      const x = block(Array.from({ length: 16 }, () => Math.round(rnd())));
      const w = new Int32Array(16);
      forward4x4(x, w);
      quantize4x4(w, 12, 0);
      dequantize4x4(w, 12, 0);
      const r = new Int32Array(16);
      inverse4x4(w, r);
      for (let k = 0; k < 16; k++) worst = Math.max(worst, Math.abs((r[k] ?? 0) - (x[k] ?? 0)));
    }
    expect(worst).toBeLessThanOrEqual(3); // Qstep(12) = 2.5
  });
});

describe('DC transforms (8.5.10, 8.5.11)', () => {
  it('Intra16x16 DC: one level of 1 at QP 26 is dcY = (16 * 13 + 2) >> 2 = 52 in every block', () => {
    const c = block([1, ...filled(15, 0)]);
    dequantizeLumaDc(c, 26);
    expect(Array.from(c)).toEqual(filled(16, 52));
    const hi = block([1, ...filled(15, 0)]);
    dequantizeLumaDc(hi, 38); // qP >= 36: (f * 16 * 13) << (38 / 6 - 6)
    expect(Array.from(hi)).toEqual(filled(16, 208));
  });

  it('Intra16x16 DC: a macroblock 20 above its prediction quantises to what rebuilds it', () => {
    // Each block's forward DC is 16 * 20 = 320; Hadamard / 2 puts 16 * 320 / 2 at (0, 0).
    const dc = block(filled(16, 320));
    quantizeLumaDc(dc, 26);
    expect(Array.from(dc)).toEqual([24, ...filled(15, 0)]); // (2560 * 10082 + 2 * 174762) >> 20
    dequantizeLumaDc(dc, 26);
    expect(Array.from(dc)).toEqual(filled(16, 1248)); // (24 * 208 + 2) >> 2
    const r = new Int32Array(16);
    inverse4x4(block([1248, ...filled(15, 0)]), r);
    expect(Array.from(r)).toEqual(filled(16, 20)); // (1248 + 32) >> 6
  });

  it('chroma DC (4:2:0): ((f * 16 * v0) << (qP / 6)) >> 5, and the 2x2 Hadamard signs', () => {
    const c = block([1, 0, 0, 0]);
    dequantizeChromaDc(c, 26);
    expect(Array.from(c)).toEqual([104, 104, 104, 104]);
    const d = block([0, 1, 0, 0]);
    dequantizeChromaDc(d, 26);
    expect(Array.from(d)).toEqual([104, -104, 104, -104]);
    const q = block([320, 320, -320, -320]); // top half +20, bottom half -20
    quantizeChromaDc(q, 26); // Hadamard: (0, 0, 1280, 0); (1280 * 10082 + 2 * 174762) >> 20 = 12
    expect(Array.from(q)).toEqual([0, 0, 12, 0]);
    dequantizeChromaDc(q, 26); // ((+-12 * 208) << 4) >> 5
    expect(Array.from(q)).toEqual([1248, 1248, -1248, -1248]);
  });

  it('chroma QP follows table 8-15', () => {
    expect([0, 29, 30, 34, 39, 45, 51].map(chromaQp)).toEqual([0, 29, 29, 32, 35, 38, 39]);
  });
});
