/**
 * Coded slices, and the capture-time SEI message.
 *
 * An IDR picture is all Intra_16x16 macroblocks (intra.ts), compressed at a fixed QP. In P
 * pictures a changed macroblock is either Intra_16x16 too, or I_PCM, which carries its samples
 * uncompressed (7.3.5, 8.3.5) so that text stays exactly as drawn; every other macroblock is P_Skip,
 * which copies the co-located macroblock of the previous frame, because every motion vector in this
 * stream is zero and so is every prediction from it (8.4.1.1, 8.4.1.3). A P frame therefore costs
 * only its changed macroblocks.
 */
import { unescapeRbsp } from '../../../protocol/rtsp/h264.js';
import { BitWriter, NAL_TYPE, nalUnit } from './bit-writer.js';
import type { IntraMacroblockCoder } from './intra.js';
import { PIC_INIT_QP, LOG2_MAX_FRAME_NUM } from './parameter-sets.js';
import type { Picture } from './picture.js';

/** In P slices, mb_type 5 + n is the I slice's mb_type n (tables 7-11, 7-13 and 7.4.5): I_PCM is 30. */
const MB_TYPE_INTRA_IN_P_SLICE = 5;
const I_PCM_IN_P_SLICE = MB_TYPE_INTRA_IN_P_SLICE + 25;
/** slice_type 7 / 5: all slices of the picture are I / P (table 7-6). */
const SLICE_TYPE_I_ALL = 7;
const SLICE_TYPE_P_ALL = 5;

export interface SliceParams {
  idr: boolean;
  /** frame_num: 0 for an IDR, then +1 per reference frame modulo MaxFrameNum (7.4.3). */
  frameNum: number;
  /** idr_pic_id: differs between two consecutive IDR pictures (7.4.3). */
  idrPicId: number;
  /** SliceQPY of the picture (7-30): pic_init_qp + slice_qp_delta. */
  qp: number;
}

/** slice_header() (7.3.3) for this stream's SPS/PPS. */
function writeSliceHeader(w: BitWriter, p: SliceParams): void {
  w.ue(0); // first_mb_in_slice: one slice per picture
  w.ue(p.idr ? SLICE_TYPE_I_ALL : SLICE_TYPE_P_ALL);
  w.ue(0); // pic_parameter_set_id
  w.u(LOG2_MAX_FRAME_NUM, p.frameNum);
  // frame_mbs_only_flag = 1: no field_pic_flag
  if (p.idr) w.ue(p.idrPicId);
  // pic_order_cnt_type = 2: no POC fields; redundant_pic_cnt_present_flag = 0
  if (!p.idr) {
    w.u(1, 0); // num_ref_idx_active_override_flag
    w.u(1, 0); // ref_pic_list_modification_flag_l0 (7.3.3.1)
  }
  // dec_ref_pic_marking() (7.3.3.3), every picture is a reference picture
  if (p.idr) {
    w.u(1, 0); // no_output_of_prior_pics_flag
    w.u(1, 0); // long_term_reference_flag
  } else {
    w.u(1, 0); // adaptive_ref_pic_marking_mode_flag: sliding window
  }
  w.se(p.qp - PIC_INIT_QP); // slice_qp_delta
  w.ue(1); // disable_deblocking_filter_idc: off, so skipped macroblocks stay bit-exact copies
}

/** macroblock_layer() of an I_PCM macroblock (7.3.5): mb_type, alignment, 256 luma + 2x64 chroma samples. */
function writePcmMacroblock(w: BitWriter, pic: Picture, mbx: number, mby: number, mbType: number): void {
  w.ue(mbType);
  w.alignZero(); // pcm_alignment_zero_bit
  for (let row = 0; row < 16; row++) {
    const o = (mby * 16 + row) * pic.lumaStride + mbx * 16;
    w.copyFrom(pic.y, o, o + 16);
  }
  for (const plane of [pic.u, pic.v]) {
    for (let row = 0; row < 8; row++) {
      const o = (mby * 8 + row) * pic.chromaStride + mbx * 8;
      w.copyFrom(plane, o, o + 8);
    }
  }
}

const PCM_MB_BYTES = 2 + 384;

/**
 * An IDR picture: one I slice with every macroblock Intra_16x16 (7.3.4 without mb_skip_run), coding
 * src; rec receives what a decoder reconstructs.
 */
export function writeIdrSlice(src: Picture, rec: Picture, coder: IntraMacroblockCoder, p: Omit<SliceParams, 'qp'>): Buffer {
  const w = new BitWriter(64 * 1024);
  writeSliceHeader(w, { ...p, idr: true, frameNum: 0, qp: coder.qp });
  coder.startPicture();
  for (let mby = 0; mby < src.mbHeight; mby++) {
    for (let mbx = 0; mbx < src.mbWidth; mbx++) coder.code(w, src, rec, mbx, mby, 0);
  }
  w.trailingBits();
  return nalUnit(3, NAL_TYPE.idr, w.finish());
}

/** How each macroblock of a P picture is coded (the `coding` array of writePSlice). */
export const P_MB = { skip: 0, pcm: 1, intra: 2 } as const;

/**
 * A P picture coding src: per macroblock (raster order) `coding` says P_Skip, I_PCM or Intra_16x16;
 * rec (the decoder's picture, the reference P_Skip copies) receives what a decoder has afterwards.
 * CAVLC slice_data() (7.3.4): an mb_skip_run before each coded macroblock, a last run for the
 * skipped macroblocks after the final coded one.
 */
export function writePSlice(src: Picture, rec: Picture, coding: Uint8Array, coder: IntraMacroblockCoder, p: Omit<SliceParams, 'qp'>): Buffer {
  let coded = 0;
  for (const c of coding) if (c !== P_MB.skip) coded++;
  const w = new BitWriter(32 + coded * (PCM_MB_BYTES + 4));
  writeSliceHeader(w, { ...p, idr: false, qp: coder.qp });
  coder.startPicture();
  let run = 0;
  for (let addr = 0; addr < coding.length; addr++) {
    const how = coding[addr];
    if (how === P_MB.skip) {
      run++;
      continue;
    }
    w.ue(run);
    run = 0;
    const mbx = addr % src.mbWidth;
    const mby = (addr - mbx) / src.mbWidth;
    if (how === P_MB.intra) {
      coder.code(w, src, rec, mbx, mby, MB_TYPE_INTRA_IN_P_SLICE);
    } else {
      rec.copyMbRect(src, mbx, mby, mbx + 1, mby + 1);
      writePcmMacroblock(w, rec, mbx, mby, I_PCM_IN_P_SLICE);
      coder.markPcm(mbx, mby);
    }
  }
  if (run > 0) w.ue(run);
  w.trailingBits();
  return nalUnit(2, NAL_TYPE.slice, w.finish());
}

/**
 * The capture-time SEI's uuid_iso_iec_11578 (D.2.7, user_data_unregistered): cloudcam's own, so a
 * receiver can tell this message from other user data.
 */
export const CAPTURE_TIME_UUID = Buffer.from('5c1f0a7e3b9d4c21a8e6d0f2c4b61729', 'hex');
const USER_DATA_UNREGISTERED = 5;
const CAPTURE_PAYLOAD_BYTES = 16 + 8 + 4;

/**
 * sei_rbsp() (7.3.2.3) with one user_data_unregistered message: the capture time in microseconds
 * since the Unix epoch (u64) and the frame counter (u32), both big-endian.
 */
export function writeCaptureTimeSei(captureTimeMs: number, seq: number): Buffer {
  const payload = Buffer.alloc(CAPTURE_PAYLOAD_BYTES);
  CAPTURE_TIME_UUID.copy(payload, 0);
  payload.writeBigUInt64BE(BigInt(Math.round(captureTimeMs * 1000)), 16);
  payload.writeUInt32BE(seq >>> 0, 24);
  const w = new BitWriter(64);
  w.u(8, USER_DATA_UNREGISTERED); // last_payload_type_byte (payloadType < 255)
  w.u(8, CAPTURE_PAYLOAD_BYTES); // last_payload_size_byte
  w.bytes(payload);
  w.trailingBits();
  return nalUnit(0, NAL_TYPE.sei, w.finish());
}

/** The capture time and counter of a SEI NAL unit written by writeCaptureTimeSei, else undefined. */
export function readCaptureTimeSei(nal: Buffer): { captureTimeMs: number; seq: number } | undefined {
  const rbsp = unescapeRbsp(nal.subarray(1));
  if ((nal[0] ?? 0) % 32 !== NAL_TYPE.sei || rbsp[0] !== USER_DATA_UNREGISTERED || rbsp[1] !== CAPTURE_PAYLOAD_BYTES) return undefined;
  const payload = rbsp.subarray(2, 2 + CAPTURE_PAYLOAD_BYTES);
  if (payload.length < CAPTURE_PAYLOAD_BYTES || !payload.subarray(0, 16).equals(CAPTURE_TIME_UUID)) return undefined;
  return { captureTimeMs: Number(payload.readBigUInt64BE(16)) / 1000, seq: payload.readUInt32BE(24) };
}
