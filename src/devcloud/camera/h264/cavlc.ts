/**
 * residual_block_cavlc() (ITU-T H.264 7.3.5.3.2) written from a block's levels: coeff_token
 * (table 9-5), trailing-one signs, levels (9.2.2.1), total_zeros (tables 9-7, 9-8, 9-9a) and
 * run_before (table 9-10). Each table below is table 9-x transcribed as code lengths and values
 * (the code is the value written in `length` bits).
 */
import type { BitWriter } from './bit-writer.js';

/**
 * Table 9-5, one row per nC range (0 <= nC < 2, 2 <= nC < 4, 4 <= nC < 8, 8 <= nC), indexed
 * 4 * TotalCoeff + TrailingOnes. Lengths 0 mark impossible pairs (TrailingOnes > TotalCoeff).
 */
const COEFF_TOKEN_LENGTH: readonly (readonly number[])[] = [
  [
    1, 0, 0, 0, 6, 2, 0, 0, 8, 6, 3, 0, 9, 8, 7, 5, 10, 9, 8, 6, 11, 10, 9, 7, 13, 11, 10, 8, 13, 13, 11, 9, 13, 13, 13, 10, 14, 14, 13, 11, 14, 14, 14, 13, 15, 15, 14, 14, 15, 15, 15, 14, 16, 15, 15, 15, 16, 16,
    16, 15, 16, 16, 16, 16, 16, 16, 16, 16,
  ],
  [
    2, 0, 0, 0, 6, 2, 0, 0, 6, 5, 3, 0, 7, 6, 6, 4, 8, 6, 6, 4, 8, 7, 7, 5, 9, 8, 8, 6, 11, 9, 9, 6, 11, 11, 11, 7, 12, 11, 11, 9, 12, 12, 12, 11, 12, 12, 12, 11, 13, 13, 13, 12, 13, 13, 13, 13, 13, 14, 13,
    13, 14, 14, 14, 13, 14, 14, 14, 14,
  ],
  [
    4, 0, 0, 0, 6, 4, 0, 0, 6, 5, 4, 0, 6, 5, 5, 4, 7, 5, 5, 4, 7, 5, 5, 4, 7, 6, 6, 4, 7, 6, 6, 4, 8, 7, 7, 5, 8, 8, 7, 6, 9, 8, 8, 7, 9, 9, 8, 8, 9, 9, 9, 8, 10, 9, 9, 9, 10, 10, 10, 10, 10, 10, 10, 10, 10,
    10, 10, 10,
  ],
  // nC >= 8: a fixed 6-bit code, xxxxyy = TotalCoeff - 1, TrailingOnes (and 000011 for no coefficient).
  Array.from({ length: 68 }, (_, i) => (i === 0 || (i >> 2) >= (i & 3) ? 6 : 0)),
];

const COEFF_TOKEN_CODE: readonly (readonly number[])[] = [
  [
    1, 0, 0, 0, 5, 1, 0, 0, 7, 4, 1, 0, 7, 6, 5, 3, 7, 6, 5, 3, 7, 6, 5, 4, 15, 6, 5, 4, 11, 14, 5, 4, 8, 10, 13, 4, 15, 14, 9, 4, 11, 10, 13, 12, 15, 14, 9, 12, 11, 10, 13, 8, 15, 1, 9, 12, 11, 14, 13,
    8, 7, 10, 9, 12, 4, 6, 5, 8,
  ],
  [
    3, 0, 0, 0, 11, 2, 0, 0, 7, 7, 3, 0, 7, 10, 9, 5, 7, 6, 5, 4, 4, 6, 5, 6, 7, 6, 5, 8, 15, 6, 5, 4, 11, 14, 13, 4, 15, 10, 9, 4, 11, 14, 13, 12, 8, 10, 9, 8, 15, 14, 13, 12, 11, 10, 9, 12, 7, 11, 6, 8,
    9, 8, 10, 1, 7, 6, 5, 4,
  ],
  [
    15, 0, 0, 0, 15, 14, 0, 0, 11, 15, 13, 0, 8, 12, 14, 12, 15, 10, 11, 11, 11, 8, 9, 10, 9, 14, 13, 9, 8, 10, 9, 8, 15, 14, 13, 13, 11, 14, 10, 12, 15, 10, 13, 12, 11, 14, 9, 12, 8, 10, 13, 8, 13, 7, 9,
    12, 9, 12, 11, 10, 5, 8, 7, 6, 1, 4, 3, 2,
  ],
  Array.from({ length: 68 }, (_, i) => (i === 0 ? 3 : ((i >> 2) - 1) * 4 + (i & 3))),
];

/** Table 9-5, the nC = -1 column (4:2:0 chroma DC), indexed 4 * TotalCoeff + TrailingOnes. */
const CHROMA_DC_COEFF_TOKEN_LENGTH = [2, 0, 0, 0, 6, 1, 0, 0, 6, 6, 3, 0, 6, 7, 7, 6, 6, 8, 8, 7];
const CHROMA_DC_COEFF_TOKEN_CODE = [1, 0, 0, 0, 7, 1, 0, 0, 4, 6, 1, 0, 3, 3, 2, 5, 2, 3, 2, 0];

/** Tables 9-7 and 9-8: total_zeros for 4x4 blocks, row tzVlcIndex - 1 (= TotalCoeff - 1), column total_zeros. */
const TOTAL_ZEROS_LENGTH: readonly (readonly number[])[] = [
  [1, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 9],
  [3, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 6, 6, 6, 6],
  [4, 3, 3, 3, 4, 4, 3, 3, 4, 5, 5, 6, 5, 6],
  [5, 3, 4, 4, 3, 3, 3, 4, 3, 4, 5, 5, 5],
  [4, 4, 4, 3, 3, 3, 3, 3, 4, 5, 4, 5],
  [6, 5, 3, 3, 3, 3, 3, 3, 4, 3, 6],
  [6, 5, 3, 3, 3, 2, 3, 4, 3, 6],
  [6, 4, 5, 3, 2, 2, 3, 3, 6],
  [6, 6, 4, 2, 2, 3, 2, 5],
  [5, 5, 3, 2, 2, 2, 4],
  [4, 4, 3, 3, 1, 3],
  [4, 4, 2, 1, 3],
  [3, 3, 1, 2],
  [2, 2, 1],
  [1, 1],
];
const TOTAL_ZEROS_CODE: readonly (readonly number[])[] = [
  [1, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 1],
  [7, 6, 5, 4, 3, 5, 4, 3, 2, 3, 2, 3, 2, 1, 0],
  [5, 7, 6, 5, 4, 3, 4, 3, 2, 3, 2, 1, 1, 0],
  [3, 7, 5, 4, 6, 5, 4, 3, 3, 2, 2, 1, 0],
  [5, 4, 3, 7, 6, 5, 4, 3, 2, 1, 1, 0],
  [1, 1, 7, 6, 5, 4, 3, 2, 1, 1, 0],
  [1, 1, 5, 4, 3, 3, 2, 1, 1, 0],
  [1, 1, 1, 3, 3, 2, 2, 1, 0],
  [1, 0, 1, 3, 2, 1, 1, 1],
  [1, 0, 1, 3, 2, 1, 1],
  [0, 1, 1, 2, 1, 3],
  [0, 1, 1, 1, 1],
  [0, 1, 1, 1],
  [0, 1, 1],
  [0, 1],
];

/** Table 9-9 (a): total_zeros for 4:2:0 chroma DC, row TotalCoeff - 1. */
const CHROMA_DC_TOTAL_ZEROS_LENGTH = [
  [1, 2, 3, 3],
  [1, 2, 2],
  [1, 1],
];
const CHROMA_DC_TOTAL_ZEROS_CODE = [
  [1, 1, 1, 0],
  [1, 1, 0],
  [1, 0],
];

/** Table 9-10: run_before, row min(zerosLeft, 7) - 1, column run_before. */
const RUN_BEFORE_LENGTH = [[1, 1], [1, 2, 2], [2, 2, 2, 2], [2, 2, 2, 3, 3], [2, 2, 3, 3, 3, 3], [2, 3, 3, 3, 3, 3, 3], [3, 3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11]];
const RUN_BEFORE_CODE = [[1, 0], [1, 1, 0], [3, 2, 1, 0], [3, 2, 1, 1, 0], [3, 2, 3, 2, 1, 0], [3, 0, 1, 3, 2, 5, 4], [7, 6, 5, 4, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1]];

function put(w: BitWriter, lengths: readonly number[] | undefined, codes: readonly number[] | undefined, index: number, what: string): void {
  const len = lengths?.[index] ?? 0;
  if (len === 0) throw new RangeError(`CAVLC: no ${what} code for index ${index}`);
  w.u(len, codes?.[index] ?? 0);
}

/** The table 9-5 row for nC (9.2.1); -1 is 4:2:0 chroma DC. */
export function writeCoeffToken(w: BitWriter, nC: number, totalCoeff: number, trailingOnes: number): void {
  const index = 4 * totalCoeff + trailingOnes;
  if (nC === -1) return put(w, CHROMA_DC_COEFF_TOKEN_LENGTH, CHROMA_DC_COEFF_TOKEN_CODE, index, 'chroma DC coeff_token');
  const row = nC < 2 ? 0 : nC < 4 ? 1 : nC < 8 ? 2 : 3;
  put(w, COEFF_TOKEN_LENGTH[row], COEFF_TOKEN_CODE[row], index, `coeff_token (nC ${nC})`);
}

/** total_zeros for a block of maxNumCoeff coefficients (4 for chroma DC, else 15 or 16). */
export function writeTotalZeros(w: BitWriter, maxNumCoeff: number, totalCoeff: number, totalZeros: number): void {
  if (maxNumCoeff === 4) put(w, CHROMA_DC_TOTAL_ZEROS_LENGTH[totalCoeff - 1], CHROMA_DC_TOTAL_ZEROS_CODE[totalCoeff - 1], totalZeros, 'chroma DC total_zeros');
  else put(w, TOTAL_ZEROS_LENGTH[totalCoeff - 1], TOTAL_ZEROS_CODE[totalCoeff - 1], totalZeros, `total_zeros (TotalCoeff ${totalCoeff})`);
}

export function writeRunBefore(w: BitWriter, zerosLeft: number, runBefore: number): void {
  const row = Math.min(zerosLeft, 7) - 1;
  put(w, RUN_BEFORE_LENGTH[row], RUN_BEFORE_CODE[row], runBefore, `run_before (zerosLeft ${zerosLeft})`);
}

/** The largest level_prefix a Baseline stream may use (9.2.2.1: level_prefix <= 15 outside High profiles). */
const MAX_LEVEL_PREFIX = 15;

/**
 * One level_prefix/level_suffix (9.2.2.1) for levelCode at suffixLength: the inverse of
 * levelCode = (Min(15, level_prefix) << suffixLength) + level_suffix (+ 15 when level_prefix is 15
 * and suffixLength is 0), with level_suffix 4 bits for prefix 14 at suffixLength 0 and 12 bits for
 * prefix 15.
 */
export function writeLevelCode(w: BitWriter, levelCode: number, suffixLength: number): void {
  let prefix: number;
  let suffix = 0;
  let suffixSize: number;
  if (suffixLength === 0 && levelCode < 14) {
    prefix = levelCode;
    suffixSize = 0;
  } else if (suffixLength === 0 && levelCode < 30) {
    prefix = 14;
    suffix = levelCode - 14;
    suffixSize = 4;
  } else if (suffixLength > 0 && levelCode < 15 << suffixLength) {
    prefix = levelCode >> suffixLength;
    suffix = levelCode & ((1 << suffixLength) - 1);
    suffixSize = suffixLength;
  } else {
    prefix = MAX_LEVEL_PREFIX;
    suffix = levelCode - (suffixLength === 0 ? 30 : 15 << suffixLength);
    suffixSize = 12;
    if (suffix >= 1 << 12) throw new RangeError(`CAVLC: level code ${levelCode} needs level_prefix > 15, not allowed in Baseline`);
  }
  w.u(prefix + 1, 1); // level_prefix: prefix zero bits, then a one
  if (suffixSize > 0) w.u(suffixSize, suffix);
}

/**
 * residual_block_cavlc() for coeffLevel in scan order (length maxNumCoeff). Returns TotalCoeff,
 * which the next blocks' nC depends on (9.2.1).
 */
export function writeResidualBlock(w: BitWriter, coeffLevel: ArrayLike<number>, maxNumCoeff: number, nC: number): number {
  // The nonzero levels from the highest frequency down, and the zeros before each (what 9.2 reads).
  const levels: number[] = [];
  const runs: number[] = [];
  let lastNonzero = -1;
  for (let i = maxNumCoeff - 1; i >= 0; i--) {
    if ((coeffLevel[i] ?? 0) !== 0) {
      lastNonzero = i;
      break;
    }
  }
  let run = 0;
  for (let i = lastNonzero; i >= 0; i--) {
    const v = coeffLevel[i] ?? 0;
    if (v === 0) {
      run++;
      continue;
    }
    if (levels.length > 0) runs.push(run);
    levels.push(v);
    run = 0;
  }
  const totalCoeff = levels.length;
  const totalZeros = lastNonzero + 1 - totalCoeff;
  runs.push(0); // the lowest-frequency coefficient has no run_before
  let trailingOnes = 0;
  while (trailingOnes < 3 && trailingOnes < totalCoeff && Math.abs(levels[trailingOnes] ?? 0) === 1) trailingOnes++;

  writeCoeffToken(w, nC, totalCoeff, trailingOnes);
  if (totalCoeff === 0) return 0;
  for (let i = 0; i < trailingOnes; i++) w.u(1, (levels[i] ?? 0) < 0 ? 1 : 0); // trailing_ones_sign_flag

  let suffixLength = totalCoeff > 10 && trailingOnes < 3 ? 1 : 0;
  for (let i = trailingOnes; i < totalCoeff; i++) {
    const level = levels[i] ?? 0;
    let levelCode = level > 0 ? 2 * level - 2 : -2 * level - 1;
    // The first level after fewer than three trailing ones cannot be +-1 (9-5 counts it as one).
    if (i === trailingOnes && trailingOnes < 3) levelCode -= 2;
    writeLevelCode(w, levelCode, suffixLength);
    if (suffixLength === 0) suffixLength = 1;
    if (Math.abs(level) > 3 << (suffixLength - 1) && suffixLength < 6) suffixLength++;
  }

  if (totalCoeff < maxNumCoeff) writeTotalZeros(w, maxNumCoeff, totalCoeff, totalZeros);
  let zerosLeft = totalZeros;
  for (let i = 0; i < totalCoeff - 1 && zerosLeft > 0; i++) {
    const r = runs[i] ?? 0;
    writeRunBefore(w, zerosLeft, r);
    zerosLeft -= r;
  }
  return totalCoeff;
}
