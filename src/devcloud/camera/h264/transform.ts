/**
 * The 4x4 integer transform and quantisation of H.264 residuals, forward (the encoder's choice)
 * and inverse (normative: ITU-T H.264 8.5.10 to 8.5.12 for flat scaling matrices, as Baseline
 * has). The encoder rebuilds each macroblock with the inverse functions here, so its picture is
 * exactly what a decoder holds: tests compare chromium's output with it.
 *
 * Blocks are Int32Array(16) in raster order, index = 4 * row + column (the spec's c[row][column]).
 */

/** normAdjust4x4(m, i, j) of 8.5.9 (8-315): v0 at (even, even), v1 at (odd, odd), v2 elsewhere. */
const NORM_ADJUST: ReadonlyArray<readonly [number, number, number]> = [
  [10, 16, 13],
  [11, 18, 14],
  [13, 20, 16],
  [14, 23, 18],
  [16, 25, 20],
  [18, 29, 23],
];

/**
 * The forward quantiser's multipliers, MF = 2^(15 + qP/6) / (Qstep * scale): the usual encoder
 * choice (Richardson, "The H.264 Advanced Video Compression Standard", 2nd ed., table 7.8; JM and
 * x264 use the same). Not normative: any level is valid, only the inverse side is fixed.
 */
const QUANT_MF: ReadonlyArray<readonly [number, number, number]> = [
  [13107, 5243, 8066],
  [11916, 4660, 7490],
  [10082, 4194, 6554],
  [9362, 3647, 5825],
  [8192, 3355, 5243],
  [7282, 2893, 4559],
];

/** Which of the three position classes raster index k of a 4x4 block is in. */
function positionClass(k: number): 0 | 1 | 2 {
  const row = k >> 2;
  const col = k & 3;
  if (row % 2 === 0 && col % 2 === 0) return 0;
  if (row % 2 === 1 && col % 2 === 1) return 1;
  return 2;
}
const CLASS_OF = Array.from({ length: 16 }, (_, k) => positionClass(k));

/** The scale a decoder applies per position for qP % 6 = m: normAdjust4x4 with flat weights (8.5.9). */
function levelScale(m: number, k: number): number {
  const row = NORM_ADJUST[m];
  if (!row) throw new RangeError(`levelScale: qP % 6 = ${m}`);
  return row[CLASS_OF[k] ?? 2];
}

function quantMf(m: number, k: number): number {
  const row = QUANT_MF[m];
  if (!row) throw new RangeError(`quantMf: qP % 6 = ${m}`);
  return row[CLASS_OF[k] ?? 2];
}

/** Row pass results of the separable transforms (one encoder runs at a time in this thread). */
const ROWS = new Int32Array(16);
const DC_SCRATCH = new Int32Array(16);

/** The core forward transform Y = Cf X CfT (the inverse's exact counterpart up to scaling). */
export function forward4x4(x: Int32Array, out: Int32Array): void {
  const t = ROWS;
  for (let r = 0; r < 4; r++) {
    const a = x[4 * r] ?? 0;
    const b = x[4 * r + 1] ?? 0;
    const c = x[4 * r + 2] ?? 0;
    const d = x[4 * r + 3] ?? 0;
    const s03 = a + d;
    const d03 = a - d;
    const s12 = b + c;
    const d12 = b - c;
    t[4 * r] = s03 + s12;
    t[4 * r + 1] = 2 * d03 + d12;
    t[4 * r + 2] = s03 - s12;
    t[4 * r + 3] = d03 - 2 * d12;
  }
  for (let c = 0; c < 4; c++) {
    const a = t[c] ?? 0;
    const b = t[4 + c] ?? 0;
    const cc = t[8 + c] ?? 0;
    const d = t[12 + c] ?? 0;
    const s03 = a + d;
    const d03 = a - d;
    const s12 = b + cc;
    const d12 = b - cc;
    out[c] = s03 + s12;
    out[4 + c] = 2 * d03 + d12;
    out[8 + c] = s03 - s12;
    out[12 + c] = d03 - 2 * d12;
  }
}

/** Dead-zone rounding offset of intra blocks: a third of a step (JM's and x264's choice). */
function intraRounding(qbits: number): number {
  return Math.floor((1 << qbits) / 3);
}

/** Quantises the AC (or all, from `from`) coefficients of a forward-transformed 4x4 block in place. */
export function quantize4x4(w: Int32Array, qp: number, from: number): void {
  const qbits = 15 + Math.floor(qp / 6);
  const f = intraRounding(qbits);
  const mf = QUANT_MF[qp % 6] ?? [0, 0, 0];
  for (let k = from; k < 16; k++) {
    const v = w[k] ?? 0;
    // |v| <= 36 * 255 for 8-bit residuals, so |v| * MF stays below 2^31.
    const z = (Math.abs(v) * mf[CLASS_OF[k] ?? 2] + f) >> qbits;
    w[k] = v < 0 ? -z : z;
  }
}

/** Scaling of 4x4 levels (8.5.12.1, flat weights): d = (c * LevelScale4x4) << (qP / 6) >> 4, from index `from`. */
export function dequantize4x4(c: Int32Array, qp: number, from: number): void {
  const shift = Math.floor(qp / 6);
  const v = NORM_ADJUST[qp % 6] ?? [0, 0, 0];
  for (let k = from; k < 16; k++) c[k] = ((c[k] ?? 0) * v[CLASS_OF[k] ?? 2]) << shift;
}

/** The inverse transform of 8.5.12.2 (8-338 to 8-354), including the final (x + 32) >> 6. */
export function inverse4x4(d: Int32Array, out: Int32Array): void {
  const f = ROWS;
  for (let i = 0; i < 4; i++) {
    const d0 = d[4 * i] ?? 0;
    const d1 = d[4 * i + 1] ?? 0;
    const d2 = d[4 * i + 2] ?? 0;
    const d3 = d[4 * i + 3] ?? 0;
    const e0 = d0 + d2;
    const e1 = d0 - d2;
    const e2 = (d1 >> 1) - d3;
    const e3 = d1 + (d3 >> 1);
    f[4 * i] = e0 + e3;
    f[4 * i + 1] = e1 + e2;
    f[4 * i + 2] = e1 - e2;
    f[4 * i + 3] = e0 - e3;
  }
  for (let j = 0; j < 4; j++) {
    const f0 = f[j] ?? 0;
    const f1 = f[4 + j] ?? 0;
    const f2 = f[8 + j] ?? 0;
    const f3 = f[12 + j] ?? 0;
    const g0 = f0 + f2;
    const g1 = f0 - f2;
    const g2 = (f1 >> 1) - f3;
    const g3 = f1 + (f3 >> 1);
    out[j] = (g0 + g3 + 32) >> 6;
    out[4 + j] = (g1 + g2 + 32) >> 6;
    out[8 + j] = (g1 - g2 + 32) >> 6;
    out[12 + j] = (g0 - g3 + 32) >> 6;
  }
}

/** The 4x4 Hadamard transform H c H, H = [[1,1,1,1],[1,1,-1,-1],[1,-1,-1,1],[1,-1,1,-1]] (8-320). */
export function hadamard4x4(c: Int32Array, out: Int32Array): void {
  const t = ROWS;
  for (let r = 0; r < 4; r++) {
    const a = c[4 * r] ?? 0;
    const b = c[4 * r + 1] ?? 0;
    const cc = c[4 * r + 2] ?? 0;
    const d = c[4 * r + 3] ?? 0;
    t[4 * r] = a + b + cc + d;
    t[4 * r + 1] = a + b - cc - d;
    t[4 * r + 2] = a - b - cc + d;
    t[4 * r + 3] = a - b + cc - d;
  }
  for (let col = 0; col < 4; col++) {
    const a = t[col] ?? 0;
    const b = t[4 + col] ?? 0;
    const cc = t[8 + col] ?? 0;
    const d = t[12 + col] ?? 0;
    out[col] = a + b + cc + d;
    out[4 + col] = a + b - cc - d;
    out[8 + col] = a - b - cc + d;
    out[12 + col] = a - b + cc - d;
  }
}

/**
 * Forward Intra16x16 DC: the 16 blocks' DC coefficients (spatial 4x4 layout) through the Hadamard
 * transform, halved, then quantised with twice the rounding and one more bit of shift.
 */
export function quantizeLumaDc(dc: Int32Array, qp: number): void {
  const h = DC_SCRATCH;
  hadamard4x4(dc, h);
  const qbits = 16 + Math.floor(qp / 6);
  const f = 2 * intraRounding(qbits - 1);
  const mf = quantMf(qp % 6, 0);
  for (let k = 0; k < 16; k++) {
    const v = (h[k] ?? 0) >> 1;
    const z = Math.floor((Math.abs(v) * mf + f) / 2 ** qbits);
    dc[k] = v < 0 ? -z : z;
  }
}

/** Intra16x16 DC levels to dcY (8.5.10, 8-321/8-322), in place. */
export function dequantizeLumaDc(c: Int32Array, qp: number): void {
  const f = DC_SCRATCH;
  hadamard4x4(c, f);
  const scale = 16 * levelScale(qp % 6, 0);
  const q6 = Math.floor(qp / 6);
  for (let k = 0; k < 16; k++) {
    const v = (f[k] ?? 0) * scale;
    c[k] = q6 >= 6 ? v << (q6 - 6) : (v + (1 << (5 - q6))) >> (6 - q6);
  }
}

function hadamard2x2(c: Int32Array): void {
  const [a = 0, b = 0, cc = 0, d = 0] = c;
  c[0] = a + b + cc + d;
  c[1] = a - b + cc - d;
  c[2] = a + b - cc - d;
  c[3] = a - b - cc + d;
}

/** Forward 4:2:0 chroma DC: the four blocks' DC (c0 c1 / c2 c3) through the 2x2 Hadamard, quantised. */
export function quantizeChromaDc(dc: Int32Array, qpc: number): void {
  hadamard2x2(dc);
  const qbits = 16 + Math.floor(qpc / 6);
  const f = 2 * intraRounding(qbits - 1);
  const mf = quantMf(qpc % 6, 0);
  for (let k = 0; k < 4; k++) {
    const v = dc[k] ?? 0;
    const z = Math.floor((Math.abs(v) * mf + f) / 2 ** qbits);
    dc[k] = v < 0 ? -z : z;
  }
}

/** Chroma DC levels to dcC (8.5.11.2, 8-330 for 4:2:0): ((f * LevelScale4x4(qP % 6, 0, 0)) << (qP / 6)) >> 5. */
export function dequantizeChromaDc(c: Int32Array, qpc: number): void {
  hadamard2x2(c);
  const scale = 16 * levelScale(qpc % 6, 0);
  for (let k = 0; k < 4; k++) c[k] = (((c[k] ?? 0) * scale) << Math.floor(qpc / 6)) >> 5;
}

/** QPc for chroma from qPI = QPY + chroma_qp_index_offset (table 8-15); the same below 30. */
const QPC_FROM_30 = [29, 30, 31, 32, 32, 33, 34, 34, 35, 35, 36, 36, 37, 37, 37, 38, 38, 38, 39, 39, 39, 39];
export function chromaQp(qpy: number): number {
  const qpi = Math.min(51, Math.max(0, qpy));
  return qpi < 30 ? qpi : (QPC_FROM_30[qpi - 30] ?? 39);
}

/** Zig-zag scan of a 4x4 frame block (table 8-13): scan position -> raster index. */
export const ZIGZAG_4X4: readonly number[] = [0, 1, 4, 8, 5, 2, 3, 6, 9, 12, 13, 10, 7, 11, 14, 15];
