/**
 * The live scene as H.264 access units: the camera's still scene (the same one its JPEG snapshots
 * show), a clock and frame counter, and the moving object while motion is active. A keyframe codes
 * the whole picture with intra prediction and transform coding at a fixed QP (intra.ts). After it,
 * only the macroblocks inside the areas that can change are redrawn and compared each frame, and
 * only those that differ are coded (the text uncompressed, the rest as the keyframes are), so a
 * frame costs what changed, not the picture size.
 */
import type { MotionBox } from '../motion.js';
import { IntraMacroblockCoder } from './intra.js';
import { macroblocks, writePps, writeSps, type StreamFormat } from './parameter-sets.js';
import { Picture, yuvOf, type Rect } from './picture.js';
import { P_MB, writeCaptureTimeSei, writeIdrSlice, writePSlice } from './slices.js';
import { LOG2_MAX_FRAME_NUM } from './parameter-sets.js';

export interface AccessUnit {
  /** NAL units without start codes, in decoding order (SPS, PPS before an IDR; SEI; the slice). */
  nalUnits: Buffer[];
  keyframe: boolean;
  /** Frame counter since the encoder started. */
  seq: number;
  /** Wall-clock capture time (ms since the epoch), also carried in the SEI message. */
  captureTimeMs: number;
  /** Macroblocks coded (not skipped) in this frame. */
  codedMacroblocks: number;
}

/**
 * The keyframes' QP (and the intra-coded object's): 720p keyframes of the simulator's noisy scene
 * come out near 90 KB at ~36 dB luma PSNR, ~1 Mbit/s with an IDR every 2 s (intra.test.ts,
 * docs/protocol-rtsp.md).
 */
export const KEYFRAME_QP = 26;

const OBJECT_FILL = yuvOf(255, 140, 0);
const OBJECT_EDGE = yuvOf(0, 0, 0);
const TEXT = yuvOf(255, 255, 255);
const PANEL = yuvOf(0, 0, 0);
/** Frame counter cells, one macroblock each along the bottom row (as the JPEG frames have one). */
export const COUNTER_BITS = 16;
export const COUNTER_ON = yuvOf(255, 255, 255);
export const COUNTER_OFF = yuvOf(0, 0, 0);

export class FrameEncoder {
  readonly sps: Buffer;
  readonly pps: Buffer;
  private readonly current: Picture; // what a decoder holds after the last frame
  private readonly shown: Picture; // the source samples the decoder's picture was coded from
  private readonly scratch: Picture; // the next frame, valid inside the redrawn areas only
  private readonly intra: IntraMacroblockCoder;
  private readonly changed: Uint8Array; // P_MB per macroblock of the next P frame
  private readonly candidate: Uint8Array;
  private readonly text: Uint8Array; // macroblocks under the clock panel or the counter cells
  private readonly scale: number;
  private readonly panel: Rect;
  private lastObject: MotionBox | undefined;
  private seq = 0;
  private frameNum = 0;
  private idrPicId = 0;
  private started = false;

  constructor(
    readonly format: StreamFormat,
    private readonly background: Picture,
    qp = KEYFRAME_QP,
  ) {
    const mb = macroblocks(format);
    if (background.mbWidth !== mb.mbWidth || background.mbHeight !== mb.mbHeight) throw new RangeError('FrameEncoder: background size differs from the format');
    this.sps = writeSps(format);
    this.pps = writePps();
    this.current = new Picture(mb.mbWidth, mb.mbHeight);
    this.shown = new Picture(mb.mbWidth, mb.mbHeight);
    this.intra = new IntraMacroblockCoder(mb.mbWidth, mb.mbHeight, qp);
    this.scratch = new Picture(mb.mbWidth, mb.mbHeight);
    this.changed = new Uint8Array(mb.count);
    this.candidate = new Uint8Array(mb.count);
    this.scale = Math.max(1, Math.round(format.height / 240));
    // "2026-12-07 19:20:01.234Z #12345678": 34 characters.
    this.panel = { left: 0, top: 0, width: Math.min(format.width, (34 * 6 + 2) * this.scale), height: 9 * this.scale };
    this.text = new Uint8Array(mb.count);
    for (const area of [this.panel, this.counterRect()]) {
      const r = this.mbRect(area);
      for (let y = r.top; y < r.bottom; y++) this.text.fill(1, y * mb.mbWidth + r.left, y * mb.mbWidth + r.right);
    }
  }

  /** The picture a decoder holds after the last frame (tests compare decoded output with it). */
  get decodedPicture(): Picture {
    return this.current;
  }

  /** The next frame at `captureTimeMs`; a keyframe when asked (or the first frame). */
  encode(captureTimeMs: number, object: MotionBox | undefined, keyframe: boolean): AccessUnit {
    const idr = keyframe || !this.started;
    this.candidate.fill(0);
    this.compose(captureTimeMs, object);
    const seq = this.seq++;
    const nalUnits: Buffer[] = [];
    let coded: number;
    if (idr) {
      this.shown.copyMbRect(this.scratch, 0, 0, this.shown.mbWidth, this.shown.mbHeight);
      this.frameNum = 0;
      nalUnits.push(this.sps, this.pps, writeCaptureTimeSei(captureTimeMs, seq), writeIdrSlice(this.scratch, this.current, this.intra, { idr: true, frameNum: 0, idrPicId: this.idrPicId }));
      this.idrPicId = (this.idrPicId + 1) % 65536;
      coded = this.changed.length;
      this.started = true;
    } else {
      coded = this.diff();
      this.frameNum = (this.frameNum + 1) % 2 ** LOG2_MAX_FRAME_NUM;
      nalUnits.push(writeCaptureTimeSei(captureTimeMs, seq), writePSlice(this.scratch, this.current, this.changed, this.intra, { idr: false, frameNum: this.frameNum, idrPicId: 0 }));
    }
    return { nalUnits, keyframe: idr, seq, captureTimeMs, codedMacroblocks: coded };
  }

  /** Redraws into scratch every area that may differ from the last frame, marking their macroblocks. */
  private compose(now: number, object: MotionBox | undefined): void {
    const areas: Rect[] = [this.panel, this.counterRect()];
    if (this.lastObject) areas.push(this.lastObject);
    if (object) areas.push(object);
    if (!this.started) areas.push({ left: 0, top: 0, width: this.format.width, height: this.format.height });
    for (const a of areas) {
      const r = this.mbRect(a);
      this.scratch.copyMbRect(this.background, r.left, r.top, r.right, r.bottom);
      for (let y = r.top; y < r.bottom; y++) this.candidate.fill(1, y * this.current.mbWidth + r.left, y * this.current.mbWidth + r.right);
    }
    if (object) {
      const edge = Math.max(1, Math.round(object.width / 30));
      this.scratch.fill(object, OBJECT_EDGE);
      this.scratch.fill({ left: object.left + edge, top: object.top + edge, width: object.width - 2 * edge, height: object.height - 2 * edge }, OBJECT_FILL);
    }
    this.lastObject = object;
    this.scratch.fill(this.panel, PANEL);
    const stamp = `${new Date(now).toISOString().replace('T', ' ')} #${this.seq}`;
    this.scratch.text(stamp, this.scale, this.scale, this.scale, TEXT);
    const cells = this.counterRect();
    for (let b = 0; b < COUNTER_BITS; b++) {
      const on = (this.seq >>> (COUNTER_BITS - 1 - b)) & 1;
      this.scratch.fill({ left: cells.left + b * 16, top: cells.top, width: 16, height: 16 }, on ? COUNTER_ON : COUNTER_OFF);
    }
  }

  /** The counter's cells: whole macroblocks in the last full macroblock row, from column 1. */
  counterRect(): Rect {
    const row = Math.floor(this.format.height / 16) - 1;
    return { left: 16, top: row * 16, width: Math.min(COUNTER_BITS, this.current.mbWidth - 1) * 16, height: 16 };
  }

  private mbRect(a: Rect): { left: number; top: number; right: number; bottom: number } {
    const { mbWidth, mbHeight } = this.current;
    return {
      left: Math.max(0, Math.floor(a.left / 16)),
      top: Math.max(0, Math.floor(a.top / 16)),
      right: Math.min(mbWidth, Math.ceil((a.left + a.width) / 16)),
      bottom: Math.min(mbHeight, Math.ceil((a.top + a.height) / 16)),
    };
  }

  /**
   * Marks the candidate macroblocks whose source differs from what the decoder's picture was coded
   * from: I_PCM under the clock and the counter, whose text must stay exact and sharp; Intra_16x16
   * elsewhere (the moving object and the scene it uncovers), coded like the keyframes.
   */
  private diff(): number {
    const { mbWidth } = this.current;
    this.changed.fill(P_MB.skip);
    let coded = 0;
    for (let addr = 0; addr < this.candidate.length; addr++) {
      if (!this.candidate[addr]) continue;
      const mbx = addr % mbWidth;
      const mby = (addr - mbx) / mbWidth;
      if (this.scratch.mbEquals(this.shown, mbx, mby)) continue;
      this.changed[addr] = this.text[addr] ? P_MB.pcm : P_MB.intra;
      this.shown.copyMbRect(this.scratch, mbx, mby, mbx + 1, mby + 1);
      coded++;
    }
    return coded;
  }
}
