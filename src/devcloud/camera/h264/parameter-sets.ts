/**
 * Sequence and picture parameter sets for the simulator's stream: Constrained Baseline profile
 * (profile_idc 66 with constraint_set0/1/2, i.e. profile-level-id 42e0xx as WebRTC browsers list it),
 * CAVLC, one reference frame, picture order count type 2 (output order = decoding order), deblocking
 * switchable per slice. Syntax: ITU-T H.264 7.3.2.1.1 (SPS), E.1.1 (VUI), 7.3.2.2 (PPS).
 */
import { BitWriter, NAL_TYPE, nalUnit } from './bit-writer.js';

export interface StreamFormat {
  width: number;
  height: number;
  fps: number;
}

/** Table A-1 rows: level_idc, MaxFS (macroblocks per frame), MaxMBPS (macroblocks per second). */
const LEVELS: ReadonlyArray<readonly [number, number, number]> = [
  [10, 99, 1485],
  [11, 396, 3000],
  [12, 396, 6000],
  [13, 396, 11880],
  [20, 396, 11880],
  [21, 792, 19800],
  [22, 1620, 20250],
  [30, 1620, 40500],
  [31, 3600, 108000],
  [32, 5120, 216000],
  [40, 8192, 245760],
  [42, 8704, 522240],
  [50, 22080, 589824],
  [51, 36864, 983040],
  [52, 36864, 2073600],
];

export const PROFILE_IDC_BASELINE = 66;
/** constraint_set0_flag, constraint_set1_flag (Constrained Baseline), constraint_set2_flag. */
export const CONSTRAINT_FLAGS = 0xe0;
export const LOG2_MAX_FRAME_NUM = 4;
/** pic_init_qp: slices say their QP relative to it (slice_qp_delta). */
export const PIC_INIT_QP = 26;

export function macroblocks(f: StreamFormat): { mbWidth: number; mbHeight: number; count: number } {
  const mbWidth = Math.ceil(f.width / 16);
  const mbHeight = Math.ceil(f.height / 16);
  return { mbWidth, mbHeight, count: mbWidth * mbHeight };
}

/**
 * The lowest level whose frame size and macroblock rate fit the format (A.3.1 a, A.3.1 f-g: each
 * dimension at most sqrt(8 * MaxFS) macroblocks). Bit rate and MinCR are not checked: the measured
 * stream stays within them at 720p (~90 KB keyframes, ~1-4 Mbit/s), but a frame of many changed I_PCM
 * macroblocks could exceed MinCR (docs/protocol-rtsp.md).
 */
export function levelFor(f: StreamFormat): number {
  const { mbWidth, mbHeight, count } = macroblocks(f);
  for (const [level, maxFs, maxMbps] of LEVELS) {
    const side = Math.sqrt(8 * maxFs);
    if (count <= maxFs && count * f.fps <= maxMbps && mbWidth <= side && mbHeight <= side) return level;
  }
  throw new RangeError(`${f.width}x${f.height} at ${f.fps} fps exceeds every H.264 level (table A-1)`);
}

export function checkFormat(f: StreamFormat): void {
  if (!Number.isInteger(f.width) || !Number.isInteger(f.height) || f.width < 16 || f.height < 16 || f.width % 2 || f.height % 2 || f.width > 4096 || f.height > 2304) {
    throw new RangeError(`video size ${f.width}x${f.height}: width and height must be even numbers from 16 to 4096x2304`);
  }
  if (!Number.isInteger(f.fps) || f.fps < 1 || f.fps > 60) throw new RangeError(`frame rate ${f.fps}: must be a whole number of frames per second, 1..60`);
  levelFor(f);
}

/** seq_parameter_set_rbsp() (7.3.2.1.1) as a NAL unit (nal_ref_idc 3). */
export function writeSps(f: StreamFormat): Buffer {
  checkFormat(f);
  const { mbWidth, mbHeight } = macroblocks(f);
  const w = new BitWriter(64);
  w.u(8, PROFILE_IDC_BASELINE);
  w.u(8, CONSTRAINT_FLAGS); // constraint_set0..5_flag, reserved_zero_2bits
  w.u(8, levelFor(f));
  w.ue(0); // seq_parameter_set_id
  w.ue(LOG2_MAX_FRAME_NUM - 4); // log2_max_frame_num_minus4
  w.ue(2); // pic_order_cnt_type: no B frames, output order is decoding order
  w.ue(1); // max_num_ref_frames
  w.u(1, 0); // gaps_in_frame_num_value_allowed_flag
  w.ue(mbWidth - 1); // pic_width_in_mbs_minus1
  w.ue(mbHeight - 1); // pic_height_in_map_units_minus1
  w.u(1, 1); // frame_mbs_only_flag
  w.u(1, 1); // direct_8x8_inference_flag
  const cropRight = mbWidth * 16 - f.width;
  const cropBottom = mbHeight * 16 - f.height;
  if (cropRight || cropBottom) {
    // CropUnitX = CropUnitY = 2 for 4:2:0 frames (7-19, 7-20).
    w.u(1, 1);
    w.ue(0);
    w.ue(cropRight / 2);
    w.ue(0);
    w.ue(cropBottom / 2);
  } else {
    w.u(1, 0);
  }
  w.u(1, 1); // vui_parameters_present_flag
  writeVui(w, f);
  w.trailingBits();
  return nalUnit(3, NAL_TYPE.sps, w.finish());
}

/**
 * vui_parameters() (E.1.1): BT.709 limited range (how the pixels are converted), the frame rate,
 * and bitstream_restriction with no reordering and a one-frame buffer, so that a decoder outputs each
 * frame as soon as it is decoded (live latency).
 */
function writeVui(w: BitWriter, f: StreamFormat): void {
  w.u(1, 0); // aspect_ratio_info_present_flag
  w.u(1, 0); // overscan_info_present_flag
  w.u(1, 1); // video_signal_type_present_flag
  w.u(3, 5); // video_format: unspecified
  w.u(1, 0); // video_full_range_flag
  w.u(1, 1); // colour_description_present_flag
  w.u(8, 1); // colour_primaries: BT.709
  w.u(8, 1); // transfer_characteristics: BT.709
  w.u(8, 1); // matrix_coefficients: BT.709
  w.u(1, 0); // chroma_loc_info_present_flag
  w.u(1, 1); // timing_info_present_flag
  w.u(32, 1); // num_units_in_tick
  w.u(32, 2 * f.fps); // time_scale: two ticks per frame (E.2.1)
  w.u(1, 1); // fixed_frame_rate_flag
  w.u(1, 0); // nal_hrd_parameters_present_flag
  w.u(1, 0); // vcl_hrd_parameters_present_flag
  w.u(1, 0); // pic_struct_present_flag
  w.u(1, 1); // bitstream_restriction_flag
  w.u(1, 1); // motion_vectors_over_pic_boundaries_flag
  w.ue(0); // max_bytes_per_pic_denom
  w.ue(0); // max_bits_per_mb_denom
  w.ue(15); // log2_max_mv_length_horizontal
  w.ue(15); // log2_max_mv_length_vertical
  w.ue(0); // max_num_reorder_frames
  w.ue(1); // max_dec_frame_buffering
}

/** pic_parameter_set_rbsp() (7.3.2.2) as a NAL unit (nal_ref_idc 3). */
export function writePps(): Buffer {
  const w = new BitWriter(16);
  w.ue(0); // pic_parameter_set_id
  w.ue(0); // seq_parameter_set_id
  w.u(1, 0); // entropy_coding_mode_flag: CAVLC
  w.u(1, 0); // bottom_field_pic_order_in_frame_present_flag
  w.ue(0); // num_slice_groups_minus1
  w.ue(0); // num_ref_idx_l0_default_active_minus1
  w.ue(0); // num_ref_idx_l1_default_active_minus1
  w.u(1, 0); // weighted_pred_flag
  w.u(2, 0); // weighted_bipred_idc
  w.se(PIC_INIT_QP - 26); // pic_init_qp_minus26
  w.se(0); // pic_init_qs_minus26
  w.se(0); // chroma_qp_index_offset
  w.u(1, 1); // deblocking_filter_control_present_flag: slices switch the filter off
  w.u(1, 0); // constrained_intra_pred_flag
  w.u(1, 0); // redundant_pic_cnt_present_flag
  w.trailingBits();
  return nalUnit(3, NAL_TYPE.pps, w.finish());
}

/** The SDP profile-level-id (RFC 6184 §8.1): profile_idc, constraint byte, level_idc in hex. */
export function profileLevelId(f: StreamFormat): string {
  return [PROFILE_IDC_BASELINE, CONSTRAINT_FLAGS, levelFor(f)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
