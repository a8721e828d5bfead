/**
 * What the agent reads from a camera's H.264: NAL unit types, and the sequence parameter set's
 * profile, level and picture size (ITU-T H.264 7.3.2.1.1, Exp-Golomb codes 9.1). The agent forwards
 * the stream untouched; it parses only to answer WebRTC with the camera's profile-level-id and to
 * know the frame size. Every read is bounded by the data: a malformed SPS is an error, not a hang.
 */

export const NAL = { slice: 1, idr: 5, sei: 6, sps: 7, pps: 8, stapA: 24, fuA: 28 } as const;

export function nalType(firstByte: number): number {
  return firstByte & 0x1f;
}

/** The RBSP of a NAL unit payload: emulation_prevention_three_bytes removed (7.4.1). */
export function unescapeRbsp(data: Uint8Array): Buffer {
  const out = Buffer.alloc(data.length);
  let n = 0;
  let zeros = 0;
  for (const b of data) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

export class H264ParseError extends Error {
  override readonly name = 'H264ParseError';
}

export class BitReader {
  private pos = 0;
  constructor(private readonly data: Uint8Array) {}

  get bitsLeft(): number {
    return this.data.length * 8 - this.pos;
  }

  u(n: number): number {
    if (n > this.bitsLeft) throw new H264ParseError('SPS ends in the middle of a field');
    let v = 0;
    for (let i = 0; i < n; i++) {
      const bit = ((this.data[this.pos >> 3] ?? 0) >> (7 - (this.pos & 7))) & 1;
      v = v * 2 + bit;
      this.pos++;
    }
    return v;
  }

  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) {
      // ue(v) values in an SPS fit in 32 bits (7.4.2.1.1 ranges); more zeros is garbage.
      if (++zeros > 31) throw new H264ParseError('SPS has an Exp-Golomb code longer than 32 bits');
    }
    return 2 ** zeros - 1 + this.u(zeros);
  }

  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : k === 0 ? 0 : -(k / 2);
  }
}

export interface SpsInfo {
  profileIdc: number;
  /** constraint_set0..5 flags and the two reserved bits, as the second byte of profile-level-id. */
  constraintFlags: number;
  levelIdc: number;
  /** profile-level-id as SDP and WebRTC write it (RFC 6184 §8.1), lower-case hex. */
  profileLevelId: string;
  width: number;
  height: number;
}

/** Profiles whose SPS carries chroma_format_idc and friends (7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) {
      next = (last + r.se() + 256) % 256;
    }
    last = next === 0 ? last : next;
  }
}

/** Parses an SPS NAL unit (header byte included). Throws H264ParseError on anything malformed. */
export function parseSps(nal: Uint8Array): SpsInfo {
  if (nal.length < 4 || nalType(nal[0] ?? 0) !== NAL.sps) throw new H264ParseError('not an SPS NAL unit (type 7)');
  if (nal.length > 1024) throw new H264ParseError(`SPS of ${nal.length} bytes is implausibly large`);
  const r = new BitReader(unescapeRbsp(nal.subarray(1)));
  const profileIdc = r.u(8);
  const constraintFlags = r.u(8);
  const levelIdc = r.u(8);
  r.ue(); // seq_parameter_set_id
  let chromaFormatIdc = 1;
  let separateColourPlane = 0;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc > 3) throw new H264ParseError(`chroma_format_idc ${chromaFormatIdc} out of range`);
    if (chromaFormatIdc === 3) separateColourPlane = r.u(1);
    r.ue(); // bit_depth_luma_minus8
    r.ue(); // bit_depth_chroma_minus8
    r.u(1); // qpprime_y_zero_transform_bypass_flag
    if (r.u(1)) {
      // seq_scaling_matrix_present_flag
      const lists = chromaFormatIdc !== 3 ? 8 : 12;
      for (let i = 0; i < lists; i++) if (r.u(1)) skipScalingList(r, i < 6 ? 16 : 64);
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) {
    r.ue(); // log2_max_pic_order_cnt_lsb_minus4
  } else if (pocType === 1) {
    r.u(1); // delta_pic_order_always_zero_flag
    r.se(); // offset_for_non_ref_pic
    r.se(); // offset_for_top_to_bottom_field
    const cycle = r.ue();
    if (cycle > 255) throw new H264ParseError(`num_ref_frames_in_pic_order_cnt_cycle ${cycle} out of range`);
    for (let i = 0; i < cycle; i++) r.se();
  } else if (pocType !== 2) {
    throw new H264ParseError(`pic_order_cnt_type ${pocType} out of range`);
  }
  r.ue(); // max_num_ref_frames
  r.u(1); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.u(1);
  if (!frameMbsOnly) r.u(1); // mb_adaptive_frame_field_flag
  r.u(1); // direct_8x8_inference_flag
  let crop = { left: 0, right: 0, top: 0, bottom: 0 };
  if (r.u(1)) crop = { left: r.ue(), right: r.ue(), top: r.ue(), bottom: r.ue() };
  // 7-19 / 7-20: crop units depend on the chroma format and on frame vs field coding.
  const chromaArray = separateColourPlane ? 0 : chromaFormatIdc;
  const subWidthC = chromaArray === 1 || chromaArray === 2 ? 2 : 1;
  const subHeightC = chromaArray === 1 ? 2 : 1;
  const cropUnitX = chromaArray === 0 ? 1 : subWidthC;
  const cropUnitY = (chromaArray === 0 ? 1 : subHeightC) * (2 - frameMbsOnly);
  const width = widthMbs * 16 - cropUnitX * (crop.left + crop.right);
  const height = (2 - frameMbsOnly) * heightMapUnits * 16 - cropUnitY * (crop.top + crop.bottom);
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384) throw new H264ParseError(`SPS gives a picture size of ${width}x${height}`);
  const profileLevelId = [profileIdc, constraintFlags, levelIdc].map((b) => b.toString(16).padStart(2, '0')).join('');
  return { profileIdc, constraintFlags, levelIdc, profileLevelId, width, height };
}
