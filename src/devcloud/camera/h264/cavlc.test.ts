import { describe, expect, it } from 'vitest';
import { BitWriter } from './bit-writer.js';
import { writeCoeffToken, writeLevelCode, writeResidualBlock, writeRunBefore, writeTotalZeros } from './cavlc.js';

/**
 * The CAVLC writer against codes read off ITU-T H.264 (2016+) tables 9-5, 9-7, 9-9 (a) and 9-10,
 * and one whole block worked in Richardson, "H.264 and MPEG-4 Video Compression" (Wiley, 2003),
 * 6.4.13.2, example 1. decode-in-chromium.test.ts checks the same code against a real decoder.
 */
const filled = (n: number, v: number): number[] => Array.from({ length: n }, () => v);

function bits(write: (w: BitWriter) => void): string {
  const w = new BitWriter();
  write(w);
  w.trailingBits();
  const s = Array.from(w.finish(), (b) => b.toString(2).padStart(8, '0')).join('');
  return s.replace(/10*$/, ''); // drop rbsp_trailing_bits
}

describe('coeff_token (table 9-5)', () => {
  const cases: [nC: number, trailingOnes: number, totalCoeff: number, code: string][] = [
    [0, 0, 0, '1'],
    [0, 1, 1, '01'],
    [0, 0, 1, '000101'],
    [1, 2, 2, '001'],
    [0, 1, 2, '000100'],
    [0, 3, 3, '00011'],
    [0, 3, 5, '0000100'],
    [0, 0, 15, '0000000000000111'],
    [0, 0, 16, '0000000000000100'],
    [1, 3, 16, '0000000000001000'],
    [2, 0, 0, '11'],
    [3, 1, 1, '10'],
    [2, 0, 1, '001011'],
    [3, 3, 3, '0101'],
    [4, 0, 0, '1111'],
    [7, 1, 1, '1110'],
    [5, 3, 3, '1100'],
    [8, 0, 0, '000011'],
    [16, 0, 1, '000000'],
    [8, 1, 1, '000001'],
    [9, 0, 2, '000100'],
    [16, 3, 16, '111111'],
    [-1, 0, 0, '01'],
    [-1, 1, 1, '1'],
    [-1, 0, 1, '000111'],
    [-1, 2, 2, '001'],
    [-1, 0, 4, '000010'],
    [-1, 3, 4, '0000000'],
  ];
  for (const [nC, t1, tc, code] of cases) {
    it(`nC ${nC}, TrailingOnes ${t1}, TotalCoeff ${tc}: ${code}`, () => {
      expect(bits((w) => writeCoeffToken(w, nC, tc, t1))).toBe(code);
    });
  }

  it('refuses a pair the table does not have', () => {
    expect(() => bits((w) => writeCoeffToken(w, 0, 1, 2))).toThrow(/no coeff_token/);
  });
});

describe('total_zeros and run_before', () => {
  it('4x4 blocks (tables 9-7, 9-8)', () => {
    expect([0, 1, 2, 3, 15].map((tz) => bits((w) => writeTotalZeros(w, 16, 1, tz)))).toEqual(['1', '011', '010', '0011', '000000001']);
    expect(bits((w) => writeTotalZeros(w, 16, 5, 3))).toBe('111');
    expect([0, 1].map((tz) => bits((w) => writeTotalZeros(w, 16, 15, tz)))).toEqual(['0', '1']);
  });

  it('4:2:0 chroma DC (table 9-9 a)', () => {
    expect([0, 1, 2, 3].map((tz) => bits((w) => writeTotalZeros(w, 4, 1, tz)))).toEqual(['1', '01', '001', '000']);
    expect([0, 1].map((tz) => bits((w) => writeTotalZeros(w, 4, 3, tz)))).toEqual(['1', '0']);
  });

  it('run_before (table 9-10)', () => {
    expect([0, 1].map((r) => bits((w) => writeRunBefore(w, 1, r)))).toEqual(['1', '0']);
    expect([0, 1, 2].map((r) => bits((w) => writeRunBefore(w, 2, r)))).toEqual(['1', '01', '00']);
    expect([0, 1, 6].map((r) => bits((w) => writeRunBefore(w, 6, r)))).toEqual(['11', '000', '100']);
    expect([0, 6, 7, 14].map((r) => bits((w) => writeRunBefore(w, 9, r)))).toEqual(['111', '001', '0001', '00000000001']);
  });
});

describe('levels (9.2.2.1)', () => {
  it('level_prefix zeros and a one, then level_suffix', () => {
    expect(bits((w) => writeLevelCode(w, 0, 0))).toBe('1');
    expect(bits((w) => writeLevelCode(w, 13, 0))).toBe('00000000000001');
    // level_prefix 14 at suffixLength 0 takes a 4-bit suffix: levelCode = 14 + suffix
    expect(bits((w) => writeLevelCode(w, 17, 0))).toBe('000000000000001' + '0011');
    // level_prefix 15 at suffixLength 0: levelCode = 15 + 15 + 12-bit suffix
    expect(bits((w) => writeLevelCode(w, 31, 0))).toBe('0000000000000001' + '000000000001');
    expect(bits((w) => writeLevelCode(w, 5, 2))).toBe('01' + '01');
    expect(bits((w) => writeLevelCode(w, (15 << 2) + 7, 2))).toBe('0000000000000001' + '000000000111');
  });

  it('refuses a level a Baseline stream cannot carry (level_prefix > 15)', () => {
    expect(() => bits((w) => writeLevelCode(w, 30 + 4096, 0))).toThrow(/Baseline/);
  });
});

describe('residual_block_cavlc (7.3.5.3.2)', () => {
  it("Richardson's example 1: 0 3 -1 0 / 0 -1 1 0 / 1 0 0 0 / 0 ... at nC 0", () => {
    // zig-zag order: 0, 3, 0, 1, -1, -1, 0, 1, then zeros. TotalCoeff 5, TrailingOnes 3, total_zeros 3.
    const scan = [0, 3, 0, 1, -1, -1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    let total = -1;
    expect(bits((w) => (total = writeResidualBlock(w, scan, 16, 0)))).toBe('000010001110010111101101');
    expect(total).toBe(5);
  });

  it('suffixLength starts at 1 with more than 10 coefficients and grows past 3 << (suffixLength - 1)', () => {
    // 11 coefficients, no trailing ones: suffixLength 1 from the start (9-3 context), levels 2, 5, ...
    const scan = [9, 2, 2, 2, 2, 2, 2, 2, 2, 2, 5, 0, 0, 0, 0, 0];
    const got = bits((w) => writeResidualBlock(w, scan, 16, 0));
    const token = bits((w) => writeCoeffToken(w, 0, 11, 0));
    expect(got.startsWith(token)).toBe(true);
    const rest = got.slice(token.length);
    // First level 5, decremented by 2 (TrailingOnes < 3): levelCode 8 - 2 = 6 at suffixLength 1:
    // prefix 3, suffix 0 -> 0001 0. |5| > 3: suffixLength 2. Then 2: levelCode 2 -> prefix 0, suffix 10.
    expect(rest.startsWith('00010' + '110')).toBe(true);
  });

  it('an empty block is just coeff_token (0, 0); chroma DC uses the nC = -1 column', () => {
    expect(bits((w) => writeResidualBlock(w, filled(15, 0), 15, 3))).toBe('11');
    expect(bits((w) => writeResidualBlock(w, [0, 0, 0, 0], 4, -1))).toBe('01');
    // chroma DC: a single -1 last: coeff_token (1, 1) = 1, sign 1, total_zeros 3 of table 9-9 a = 000
    expect(bits((w) => writeResidualBlock(w, [0, 0, 0, -1], 4, -1))).toBe('1' + '1' + '000');
  });
});
