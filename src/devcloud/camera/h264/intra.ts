/**
 * Intra_16x16 macroblocks (ITU-T H.264 7.3.5, 8.3.3, 8.3.4, 8.5): per macroblock the best of the
 * vertical, horizontal and DC predictions for luma and chroma, the residual through the 4x4 integer
 * transform (luma DC and chroma DC through their Hadamard transforms) at one fixed QP, CAVLC levels,
 * and the decoder's reconstruction written back into the reference picture, sample for sample, so
 * that the next macroblock predicts from what a decoder has and P_Skip copies stay exact.
 */
import type { BitWriter } from './bit-writer.js';
import { writeResidualBlock } from './cavlc.js';
import type { Picture } from './picture.js';
import {
  chromaQp,
  dequantizeChromaDc,
  dequantizeLumaDc,
  dequantize4x4,
  forward4x4,
  inverse4x4,
  quantize4x4,
  quantizeChromaDc,
  quantizeLumaDc,
  ZIGZAG_4X4,
} from './transform.js';

/** Intra16x16PredMode (table 8-4) and intra_chroma_pred_mode (table 8-5); plane is not used. */
const LUMA_MODE = { vertical: 0, horizontal: 1, dc: 2 } as const;
const CHROMA_MODE = { dc: 0, horizontal: 1, vertical: 2 } as const;

/** luma4x4BlkIdx -> (x, y) of the block inside its macroblock, in 4-sample units (6.4.3). */
const BLOCK_X = [0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3];
const BLOCK_Y = [0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3];

/** What an I_PCM macroblock's blocks count as for their neighbours' nC (9.2.1). */
const PCM_TOTAL_COEFF = 16;

interface Plane {
  samples: Buffer;
  stride: number;
}

/**
 * Codes Intra_16x16 macroblocks of one picture at a fixed QP. Keeps each 4x4 block's TotalCoeff,
 * which the CAVLC context of the blocks right of and below it depends on (9.2.1).
 */
export class IntraMacroblockCoder {
  private readonly lumaCounts: Uint8Array; // per 4x4 luma block, (mbWidth * 4) per row
  private readonly chromaCounts: [Uint8Array, Uint8Array]; // per 4x4 Cb / Cr block, (mbWidth * 2) per row
  private readonly qpc: number;
  // Per-macroblock scratch, reused: prediction, coefficients of the 16 luma blocks, DC matrices.
  private readonly lumaPred = new Uint8Array(256);
  private readonly edgeAbove = new Uint8Array(16);
  private readonly edgeLeft = new Uint8Array(16);
  private readonly lumaBlocks = Array.from({ length: 16 }, () => new Int32Array(16));
  private readonly lumaDc = new Int32Array(16);
  private readonly chromaPred = [new Uint8Array(64), new Uint8Array(64)] as const;
  private readonly chromaEdges = [new Uint8Array(16), new Uint8Array(16)] as const;
  private readonly chromaBlocks = [Array.from({ length: 4 }, () => new Int32Array(16)), Array.from({ length: 4 }, () => new Int32Array(16))] as const;
  private readonly chromaDc = [new Int32Array(4), new Int32Array(4)] as const;
  private readonly block = new Int32Array(16);
  private readonly scan = new Int32Array(16);

  constructor(
    private readonly mbWidth: number,
    mbHeight: number,
    readonly qp: number,
  ) {
    if (!Number.isInteger(qp) || qp < 0 || qp > 51) throw new RangeError(`QP ${qp}: must be a whole number 0..51 (7.4.3)`);
    this.lumaCounts = new Uint8Array(mbWidth * 4 * mbHeight * 4);
    this.chromaCounts = [new Uint8Array(mbWidth * 2 * mbHeight * 2), new Uint8Array(mbWidth * 2 * mbHeight * 2)];
    this.qpc = chromaQp(qp); // chroma_qp_index_offset is 0 (parameter-sets.ts)
  }

  /** A new picture: every block counts as having no coefficients (P_Skip) until coded. */
  startPicture(): void {
    this.lumaCounts.fill(0);
    this.chromaCounts[0].fill(0);
    this.chromaCounts[1].fill(0);
  }

  /** Macroblock (mbx, mby) is I_PCM in this picture: its blocks count as 16 for their neighbours' nC (9.2.1). */
  markPcm(mbx: number, mby: number): void {
    const luma = this.mbWidth * 4;
    for (let y = 0; y < 4; y++) this.lumaCounts.fill(PCM_TOTAL_COEFF, (mby * 4 + y) * luma + mbx * 4, (mby * 4 + y) * luma + mbx * 4 + 4);
    const chroma = this.mbWidth * 2;
    for (const counts of this.chromaCounts) {
      for (let y = 0; y < 2; y++) counts.fill(PCM_TOTAL_COEFF, (mby * 2 + y) * chroma + mbx * 2, (mby * 2 + y) * chroma + mbx * 2 + 2);
    }
  }

  /**
   * macroblock_layer() of an Intra_16x16 macroblock coding src's samples; rec receives the decoded
   * samples. mbTypeOffset is 0 in I slices and 5 in P slices (tables 7-11, 7-13).
   */
  code(w: BitWriter, src: Picture, rec: Picture, mbx: number, mby: number, mbTypeOffset: number): void {
    const left = mbx > 0;
    const top = mby > 0;
    const luma: Plane = { samples: rec.y, stride: rec.lumaStride };
    const lumaMode = this.predictLuma(src, luma, mbx, mby, left, top);
    const cbpLuma = this.transformLuma(src, mbx, mby);
    const chromaSrc: [Plane, Plane] = [
      { samples: src.u, stride: src.chromaStride },
      { samples: src.v, stride: src.chromaStride },
    ];
    const chromaRec: [Plane, Plane] = [
      { samples: rec.u, stride: rec.chromaStride },
      { samples: rec.v, stride: rec.chromaStride },
    ];
    const chromaMode = this.predictChroma(chromaSrc, chromaRec, mbx, mby, left, top);
    const cbpChroma = Math.max(this.transformChroma(chromaSrc, mbx, mby, 0), this.transformChroma(chromaSrc, mbx, mby, 1));

    // mb_type 1..24 of table 7-11: 1 + Intra16x16PredMode + 4 * CodedBlockPatternChroma + 12 if luma AC is coded.
    w.ue(mbTypeOffset + 1 + lumaMode + 4 * cbpChroma + (cbpLuma ? 12 : 0));
    w.ue(chromaMode); // mb_pred(): intra_chroma_pred_mode (7.3.5.1)
    w.se(0); // mb_qp_delta: the slice's QP throughout
    this.writeLumaResidual(w, mbx, mby, cbpLuma);
    this.writeChromaResidual(w, mbx, mby, cbpChroma);

    this.reconstructLuma(luma, mbx, mby);
    for (const c of [0, 1] as const) this.reconstructChroma(chromaRec[c], mbx, mby, c);
  }

  /** 8.3.3: vertical, horizontal or DC, whichever is closest to the source (sum of absolute differences). */
  private predictLuma(src: Picture, rec: Plane, mbx: number, mby: number, left: boolean, top: boolean): number {
    const { samples, stride } = rec;
    const x0 = mbx * 16;
    const y0 = mby * 16;
    const above = this.edgeAbove;
    const beside = this.edgeLeft;
    let sum = 0;
    for (let i = 0; i < 16; i++) {
      above[i] = top ? (samples[(y0 - 1) * stride + x0 + i] ?? 0) : 0;
      beside[i] = left ? (samples[(y0 + i) * stride + x0 - 1] ?? 0) : 0;
      sum += (above[i] ?? 0) + (beside[i] ?? 0);
    }
    const dc = left && top ? (sum + 16) >> 5 : left || top ? (sum + 8) >> 4 : 128; // 8-122 to 8-125
    let sadDc = 0;
    let sadV = 0;
    let sadH = 0;
    for (let y = 0; y < 16; y++) {
      const row = (y0 + y) * src.lumaStride + x0;
      const h = beside[y] ?? 0;
      for (let x = 0; x < 16; x++) {
        const s = src.y[row + x] ?? 0;
        sadDc += Math.abs(s - dc);
        sadV += Math.abs(s - (above[x] ?? 0));
        sadH += Math.abs(s - h);
      }
    }
    let mode: number = LUMA_MODE.dc;
    let best = sadDc;
    if (top && sadV < best) {
      mode = LUMA_MODE.vertical;
      best = sadV;
    }
    if (left && sadH < best) mode = LUMA_MODE.horizontal;
    const pred = this.lumaPred;
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) pred[y * 16 + x] = mode === LUMA_MODE.dc ? dc : mode === LUMA_MODE.vertical ? (above[x] ?? 0) : (beside[y] ?? 0);
    }
    return mode;
  }

  /** Forward transform and quantisation of the 16 luma blocks; 15 (all AC coded) or 0 (none). */
  private transformLuma(src: Picture, mbx: number, mby: number): number {
    let anyAc = false;
    for (let blk = 0; blk < 16; blk++) {
      const bx = (BLOCK_X[blk] ?? 0) * 4;
      const by = (BLOCK_Y[blk] ?? 0) * 4;
      for (let y = 0; y < 4; y++) {
        const row = (mby * 16 + by + y) * src.lumaStride + mbx * 16 + bx;
        for (let x = 0; x < 4; x++) this.block[y * 4 + x] = (src.y[row + x] ?? 0) - (this.lumaPred[(by + y) * 16 + bx + x] ?? 0);
      }
      const coeffs = this.lumaBlocks[blk] ?? this.block;
      forward4x4(this.block, coeffs);
      this.lumaDc[(by / 4) * 4 + bx / 4] = coeffs[0] ?? 0;
      quantize4x4(coeffs, this.qp, 1);
      for (let k = 1; k < 16 && !anyAc; k++) anyAc = coeffs[k] !== 0;
    }
    quantizeLumaDc(this.lumaDc, this.qp);
    return anyAc ? 15 : 0;
  }

  /** residual_luma() for Intra_16x16 (7.3.5.3.1): the DC block, then the AC blocks if coded. */
  private writeLumaResidual(w: BitWriter, mbx: number, mby: number, cbpLuma: number): void {
    for (let i = 0; i < 16; i++) this.scan[i] = this.lumaDc[ZIGZAG_4X4[i] ?? 0] ?? 0;
    writeResidualBlock(w, this.scan, 16, this.lumaNc(mbx * 4, mby * 4)); // Intra16x16DCLevel, nC of block 0
    const stride = this.mbWidth * 4;
    for (let blk = 0; blk < 16; blk++) {
      const gx = mbx * 4 + (BLOCK_X[blk] ?? 0);
      const gy = mby * 4 + (BLOCK_Y[blk] ?? 0);
      let total = 0;
      if (cbpLuma) {
        const coeffs = this.lumaBlocks[blk] ?? this.block;
        for (let i = 1; i < 16; i++) this.scan[i - 1] = coeffs[ZIGZAG_4X4[i] ?? 0] ?? 0;
        total = writeResidualBlock(w, this.scan, 15, this.lumaNc(gx, gy)); // Intra16x16ACLevel
      }
      this.lumaCounts[gy * stride + gx] = total;
    }
  }

  /** nC of the luma block at (gx, gy) in 4x4 units (9.2.1): from the blocks left of and above it. */
  private lumaNc(gx: number, gy: number): number {
    const stride = this.mbWidth * 4;
    return averageNc(gx > 0 ? this.lumaCounts[gy * stride + gx - 1] : undefined, gy > 0 ? this.lumaCounts[(gy - 1) * stride + gx] : undefined);
  }

  private chromaNc(c: 0 | 1, gx: number, gy: number): number {
    const stride = this.mbWidth * 2;
    const counts = this.chromaCounts[c];
    return averageNc(gx > 0 ? counts[gy * stride + gx - 1] : undefined, gy > 0 ? counts[(gy - 1) * stride + gx] : undefined);
  }

  private reconstructLuma(rec: Plane, mbx: number, mby: number): void {
    dequantizeLumaDc(this.lumaDc, this.qp);
    for (let blk = 0; blk < 16; blk++) {
      const bx = (BLOCK_X[blk] ?? 0) * 4;
      const by = (BLOCK_Y[blk] ?? 0) * 4;
      const coeffs = this.lumaBlocks[blk] ?? this.block;
      dequantize4x4(coeffs, this.qp, 1);
      coeffs[0] = this.lumaDc[(by / 4) * 4 + bx / 4] ?? 0; // 8.5.2: the DC comes from dcY unscaled
      inverse4x4(coeffs, this.block);
      addClipped(rec, mbx * 16 + bx, mby * 16 + by, this.block, this.lumaPred, (by * 16 + bx) | 0, 16);
    }
  }

  /** 8.3.4 for 4:2:0: DC (per 4x4 block, rules 8-138 to 8-141), horizontal or vertical, for both planes. */
  private predictChroma(src: [Plane, Plane], rec: [Plane, Plane], mbx: number, mby: number, left: boolean, top: boolean): number {
    const x0 = mbx * 8;
    const y0 = mby * 8;
    for (const c of [0, 1] as const) {
      const { samples, stride } = rec[c];
      const edges = this.chromaEdges[c];
      for (let i = 0; i < 8; i++) {
        edges[i] = top ? (samples[(y0 - 1) * stride + x0 + i] ?? 0) : 0;
        edges[8 + i] = left ? (samples[(y0 + i) * stride + x0 - 1] ?? 0) : 0;
      }
    }
    let bestMode: number = CHROMA_MODE.dc;
    let bestSad = Infinity;
    for (const mode of [CHROMA_MODE.dc, CHROMA_MODE.horizontal, CHROMA_MODE.vertical]) {
      if ((mode === CHROMA_MODE.horizontal && !left) || (mode === CHROMA_MODE.vertical && !top)) continue;
      let sad = 0;
      for (const c of [0, 1] as const) {
        const pred = this.chromaPred[c];
        fillChromaPrediction(pred, this.chromaEdges[c], mode, left, top);
        const { samples, stride } = src[c];
        for (let y = 0; y < 8; y++) {
          const row = (y0 + y) * stride + x0;
          for (let x = 0; x < 8; x++) sad += Math.abs((samples[row + x] ?? 0) - (pred[y * 8 + x] ?? 0));
        }
      }
      if (sad < bestSad) {
        bestSad = sad;
        bestMode = mode;
      }
    }
    for (const c of [0, 1] as const) fillChromaPrediction(this.chromaPred[c], this.chromaEdges[c], bestMode, left, top);
    return bestMode;
  }

  /** Forward transform and quantisation of one chroma plane: 2 if AC is left, 1 if only DC, else 0. */
  private transformChroma(src: [Plane, Plane], mbx: number, mby: number, c: 0 | 1): number {
    const { samples, stride } = src[c];
    const pred = this.chromaPred[c];
    const dc = this.chromaDc[c];
    let cbp = 0;
    for (let blk = 0; blk < 4; blk++) {
      const bx = (blk & 1) * 4;
      const by = (blk >> 1) * 4;
      for (let y = 0; y < 4; y++) {
        const row = (mby * 8 + by + y) * stride + mbx * 8 + bx;
        for (let x = 0; x < 4; x++) this.block[y * 4 + x] = (samples[row + x] ?? 0) - (pred[(by + y) * 8 + bx + x] ?? 0);
      }
      const coeffs = this.chromaBlocks[c][blk] ?? this.block;
      forward4x4(this.block, coeffs);
      dc[blk] = coeffs[0] ?? 0;
      quantize4x4(coeffs, this.qpc, 1);
      for (let k = 1; k < 16; k++) if (coeffs[k] !== 0) cbp = 2;
    }
    quantizeChromaDc(dc, this.qpc);
    if (cbp === 0 && dc.some((v) => v !== 0)) cbp = 1;
    return cbp;
  }

  /** residual() chroma part (7.3.5.3): both DC blocks, then, if coded, Cb's and Cr's AC blocks. */
  private writeChromaResidual(w: BitWriter, mbx: number, mby: number, cbpChroma: number): void {
    if (cbpChroma > 0) for (const c of [0, 1] as const) writeResidualBlock(w, this.chromaDc[c], 4, -1); // ChromaDCLevel, c0 c1 c2 c3
    const stride = this.mbWidth * 2;
    for (const c of [0, 1] as const) {
      for (let blk = 0; blk < 4; blk++) {
        const gx = mbx * 2 + (blk & 1);
        const gy = mby * 2 + (blk >> 1);
        let total = 0;
        if (cbpChroma === 2) {
          const coeffs = this.chromaBlocks[c][blk] ?? this.block;
          for (let i = 1; i < 16; i++) this.scan[i - 1] = coeffs[ZIGZAG_4X4[i] ?? 0] ?? 0;
          total = writeResidualBlock(w, this.scan, 15, this.chromaNc(c, gx, gy)); // ChromaACLevel
        } else {
          (this.chromaBlocks[c][blk] ?? this.block).fill(0, 1); // not sent: a decoder rebuilds with zero AC
        }
        this.chromaCounts[c][gy * stride + gx] = total;
      }
    }
  }

  private reconstructChroma(rec: Plane, mbx: number, mby: number, c: 0 | 1): void {
    const dc = this.chromaDc[c];
    dequantizeChromaDc(dc, this.qpc);
    for (let blk = 0; blk < 4; blk++) {
      const bx = (blk & 1) * 4;
      const by = (blk >> 1) * 4;
      const coeffs = this.chromaBlocks[c][blk] ?? this.block;
      dequantize4x4(coeffs, this.qpc, 1);
      coeffs[0] = dc[blk] ?? 0;
      inverse4x4(coeffs, this.block);
      addClipped(rec, mbx * 8 + bx, mby * 8 + by, this.block, this.chromaPred[c], by * 8 + bx, 8);
    }
  }
}

/** nC from the available neighbours' TotalCoeff (9.2.1, 9-1): their rounded mean, one of them, or 0. */
function averageNc(a: number | undefined, b: number | undefined): number {
  if (a !== undefined && b !== undefined) return (a + b + 1) >> 1;
  return a ?? b ?? 0;
}

/** Picture construction (8.5.14): Clip1(pred + residual) into the 4x4 block at (x0, y0). */
function addClipped(rec: Plane, x0: number, y0: number, residual: Int32Array, pred: Uint8Array, predOffset: number, predStride: number): void {
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 4; x++) {
      const v = (pred[predOffset + y * predStride + x] ?? 0) + (residual[y * 4 + x] ?? 0);
      rec.samples[(y0 + y) * rec.stride + x0 + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
}

/** An 8x8 chroma prediction (8.3.4) from the decoded neighbours: edges = 8 samples above, then 8 left. */
function fillChromaPrediction(pred: Uint8Array, edges: Uint8Array, mode: number, left: boolean, top: boolean): void {
  if (mode === CHROMA_MODE.vertical) {
    for (let k = 0; k < 64; k++) pred[k] = edges[k & 7] ?? 0;
    return;
  }
  if (mode === CHROMA_MODE.horizontal) {
    for (let k = 0; k < 64; k++) pred[k] = edges[8 + (k >> 3)] ?? 0;
    return;
  }
  for (let blk = 0; blk < 4; blk++) {
    const xO = (blk & 1) * 4;
    const yO = (blk >> 1) * 4;
    let sumTop = 0;
    let sumLeft = 0;
    for (let i = 0; i < 4; i++) {
      sumTop += edges[xO + i] ?? 0;
      sumLeft += edges[8 + yO + i] ?? 0;
    }
    let dc: number;
    const both = left && top ? (sumTop + sumLeft + 4) >> 3 : undefined;
    const fromTop = top ? (sumTop + 2) >> 2 : undefined;
    const fromLeft = left ? (sumLeft + 2) >> 2 : undefined;
    if ((xO === 0 && yO === 0) || (xO > 0 && yO > 0)) dc = both ?? fromLeft ?? fromTop ?? 128; // 8-138
    else if (xO > 0) dc = fromTop ?? fromLeft ?? 128; // 8-139: the top row's right block prefers its top
    else dc = fromLeft ?? fromTop ?? 128; // 8-140: the left column's lower block prefers its left
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) pred[(yO + y) * 8 + xO + x] = dc;
  }
}
