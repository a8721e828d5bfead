/**
 * YUV 4:2:0 pictures padded to whole macroblocks, and the few drawing operations the live scene
 * needs. Colours are BT.709 limited range, as the SPS's VUI declares (parameter-sets.ts).
 */
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphPixel } from './font.js';

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface Yuv {
  y: number;
  u: number;
  v: number;
}

export class Picture {
  readonly lumaStride: number;
  readonly chromaStride: number;
  readonly y: Buffer;
  readonly u: Buffer;
  readonly v: Buffer;

  constructor(
    readonly mbWidth: number,
    readonly mbHeight: number,
  ) {
    this.lumaStride = mbWidth * 16;
    this.chromaStride = mbWidth * 8;
    this.y = Buffer.alloc(this.lumaStride * mbHeight * 16);
    this.u = Buffer.alloc(this.chromaStride * mbHeight * 8);
    this.v = Buffer.alloc(this.chromaStride * mbHeight * 8);
  }

  /** Copies the macroblock-aligned rectangle (in macroblocks) from src. */
  copyMbRect(src: Picture, mbLeft: number, mbTop: number, mbRight: number, mbBottom: number): void {
    for (let row = mbTop * 16; row < mbBottom * 16; row++) {
      const o = row * this.lumaStride;
      src.y.copy(this.y, o + mbLeft * 16, o + mbLeft * 16, o + mbRight * 16);
    }
    for (let row = mbTop * 8; row < mbBottom * 8; row++) {
      const o = row * this.chromaStride;
      src.u.copy(this.u, o + mbLeft * 8, o + mbLeft * 8, o + mbRight * 8);
      src.v.copy(this.v, o + mbLeft * 8, o + mbLeft * 8, o + mbRight * 8);
    }
  }

  /** Whether macroblock (mbx, mby) holds the same samples in both pictures. */
  mbEquals(other: Picture, mbx: number, mby: number): boolean {
    for (let row = mby * 16; row < mby * 16 + 16; row++) {
      const o = row * this.lumaStride + mbx * 16;
      if (this.y.compare(other.y, o, o + 16, o, o + 16) !== 0) return false;
    }
    for (let row = mby * 8; row < mby * 8 + 8; row++) {
      const o = row * this.chromaStride + mbx * 8;
      if (this.u.compare(other.u, o, o + 8, o, o + 8) !== 0 || this.v.compare(other.v, o, o + 8, o, o + 8) !== 0) return false;
    }
    return true;
  }

  /** Fills r (pixels, clipped to the picture); chroma covers every 2x2 block r touches. */
  fill(r: Rect, c: Yuv): void {
    const x0 = Math.max(0, r.left);
    const y0 = Math.max(0, r.top);
    const x1 = Math.min(this.lumaStride, r.left + r.width);
    const y1 = Math.min(this.mbHeight * 16, r.top + r.height);
    if (x1 <= x0 || y1 <= y0) return;
    for (let row = y0; row < y1; row++) this.y.fill(c.y, row * this.lumaStride + x0, row * this.lumaStride + x1);
    const cx0 = x0 >> 1;
    const cx1 = (x1 + 1) >> 1;
    for (let row = y0 >> 1; row < (y1 + 1) >> 1; row++) {
      this.u.fill(c.u, row * this.chromaStride + cx0, row * this.chromaStride + cx1);
      this.v.fill(c.v, row * this.chromaStride + cx0, row * this.chromaStride + cx1);
    }
  }

  /** Draws text with the 5x7 font, each font pixel a scale x scale square. Returns the drawn rect. */
  text(s: string, left: number, top: number, scale: number, c: Yuv): Rect {
    const advance = (GLYPH_WIDTH + 1) * scale;
    for (let i = 0; i < s.length; i++) {
      const ch = s[i] ?? ' ';
      for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
        for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
          if (glyphPixel(ch, gx, gy)) this.fill({ left: left + i * advance + gx * scale, top: top + gy * scale, width: scale, height: scale }, c);
        }
      }
    }
    return { left, top, width: s.length * advance, height: GLYPH_HEIGHT * scale };
  }
}

/** BT.709 limited-range Y'CbCr of an 8-bit R'G'B' colour. */
export function yuvOf(r: number, g: number, b: number): Yuv {
  const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(v)));
  return {
    y: clamp(16 + (y * 219) / 255, 16, 235),
    u: clamp(128 + ((b - y) / 1.8556) * (224 / 255), 16, 240),
    v: clamp(128 + ((r - y) / 1.5748) * (224 / 255), 16, 240),
  };
}

/**
 * A picture from packed RGB (width*height*3), padded to whole macroblocks by repeating the last
 * column and row; chroma is the mean of each 2x2 block.
 */
export function pictureFromRgb(rgb: Buffer, width: number, height: number): Picture {
  const pic = new Picture(Math.ceil(width / 16), Math.ceil(height / 16));
  const H = pic.mbHeight * 16;
  const W = pic.lumaStride;
  const at = (x: number, y: number) => (Math.min(y, height - 1) * width + Math.min(x, width - 1)) * 3;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = at(x, y);
      pic.y[y * W + x] = yuvOf(rgb[i] ?? 0, rgb[i + 1] ?? 0, rgb[i + 2] ?? 0).y;
    }
  }
  for (let cy = 0; cy < H / 2; cy++) {
    for (let cx = 0; cx < W / 2; cx++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
        const i = at(cx * 2 + dx, cy * 2 + dy);
        r += rgb[i] ?? 0;
        g += rgb[i + 1] ?? 0;
        b += rgb[i + 2] ?? 0;
      }
      const c = yuvOf(r / 4, g / 4, b / 4);
      pic.u[cy * pic.chromaStride + cx] = c.u;
      pic.v[cy * pic.chromaStride + cx] = c.v;
    }
  }
  return pic;
}
