/**
 * Bit-level writer for H.264 raw byte sequence payloads (RBSP), and the NAL unit wrapping around
 * them. Descriptors as ITU-T H.264 clause 7.2: u(n) fixed-length unsigned, ue(v)/se(v)
 * Exp-Golomb (clause 9.1), rbsp_trailing_bits (7.3.2.11), emulation prevention (7.4.1).
 */

export class BitWriter {
  private buf: Buffer;
  private byte = 0; // bytes completed
  private acc = 0; // bits not yet written out, the last nacc bits of it
  private nacc = 0; // how many bits are in acc (0..7 between calls)

  constructor(initialBytes = 256) {
    this.buf = Buffer.alloc(initialBytes);
  }

  private ensure(extra: number): void {
    if (this.byte + extra <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.byte + extra + 64));
    this.buf.copy(next, 0, 0, this.byte);
    this.buf = next;
  }

  /** u(n), n <= 32. */
  u(n: number, value: number): void {
    // The common case first, checked with integer operations only (CAVLC writes many short codes).
    if (n <= 16 && n >= 0 && value >= 0 && value < 1 << n && Number.isInteger(value)) {
      this.put(n, value);
      return;
    }
    if (n < 0 || n > 32) throw new RangeError(`u(${n}): at most 32 bits`);
    if (value < 0 || (n < 32 && value >= 2 ** n) || value > 0xffffffff) throw new RangeError(`u(${n}): ${value} does not fit`);
    if (n > 16) {
      // Two halves keep the accumulator within 31 bits.
      this.u(n - 16, Math.floor(value / 65536));
      this.u(16, value % 65536);
      return;
    }
    this.put(n, value);
  }

  private put(n: number, value: number): void {
    this.ensure(4);
    this.acc = (this.acc << n) | value;
    this.nacc += n;
    while (this.nacc >= 8) {
      this.nacc -= 8;
      this.buf[this.byte++] = (this.acc >>> this.nacc) & 0xff;
    }
    this.acc &= (1 << this.nacc) - 1;
  }

  /** ue(v): unsigned Exp-Golomb (9.1). */
  ue(value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xfffffffe) throw new RangeError(`ue(v): ${value} out of range`);
    const codeNum = value + 1;
    const len = Math.floor(Math.log2(codeNum));
    this.u(len, 0);
    this.u(len + 1, codeNum);
  }

  /** se(v): signed Exp-Golomb, k > 0 maps to 2k-1, k <= 0 to -2k (9.1.1, table 9-3). */
  se(value: number): void {
    this.ue(value > 0 ? 2 * value - 1 : -2 * value);
  }

  byteAligned(): boolean {
    return this.nacc === 0;
  }

  /** Whole bytes, only when byte aligned (I_PCM samples, SEI payloads). */
  bytes(data: Uint8Array): void {
    if (this.nacc !== 0) throw new Error('BitWriter.bytes: not byte aligned');
    this.ensure(data.length);
    this.buf.set(data, this.byte);
    this.byte += data.length;
  }

  /** Copies src[start, end) as whole bytes (I_PCM rows) without making a view of them. */
  copyFrom(src: Buffer, start: number, end: number): void {
    if (this.nacc !== 0) throw new Error('BitWriter.copyFrom: not byte aligned');
    this.ensure(end - start);
    this.byte += src.copy(this.buf, this.byte, start, end);
  }

  /** pcm_alignment_zero_bit / alignment with zero bits up to the next byte boundary. */
  alignZero(): void {
    if (this.nacc !== 0) this.u(8 - this.nacc, 0);
  }

  /** rbsp_trailing_bits(): a one bit, then zero bits to the byte boundary (7.3.2.11). */
  trailingBits(): void {
    this.u(1, 1);
    this.alignZero();
  }

  /** The RBSP written so far; must be byte aligned. */
  finish(): Buffer {
    if (this.nacc !== 0) throw new Error('BitWriter.finish: RBSP not byte aligned (missing rbsp_trailing_bits)');
    return this.buf.subarray(0, this.byte);
  }
}

/** nal_unit_type values used here (table 7-1). */
export const NAL_TYPE = { slice: 1, idr: 5, sei: 6, sps: 7, pps: 8 } as const;

const ZERO_PAIR = Buffer.from([0, 0]);

/**
 * A NAL unit (header byte + escaped payload) from an RBSP: inside the payload, any 0x000000,
 * 0x000001, 0x000002 or 0x000003 gets an emulation_prevention_three_byte after its two zeros
 * (7.4.1), so that no start code appears in the data. Scans with indexOf so that large I_PCM
 * slices cost a native search, not a JavaScript loop per byte.
 */
export function nalUnit(nalRefIdc: number, nalUnitType: number, rbsp: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([((nalRefIdc & 3) << 5) | (nalUnitType & 31)])];
  let from = 0;
  let pos = 0;
  for (;;) {
    const z = rbsp.indexOf(ZERO_PAIR, pos);
    if (z < 0 || z + 2 >= rbsp.length) break;
    const next = rbsp[z + 2] ?? 0;
    if (next <= 3) {
      parts.push(rbsp.subarray(from, z + 2), EPB);
      from = z + 2;
      pos = z + 2;
    } else {
      pos = z + 1;
    }
  }
  // A trailing 0x00 at the very end would also need escaping (7.4.1: cabac_zero_words aside, the last
  // RBSP byte is never zero because rbsp_trailing_bits ends with a one bit).
  parts.push(rbsp.subarray(from));
  return Buffer.concat(parts);
}
const EPB = Buffer.from([3]);

export const START_CODE = Buffer.from([0, 0, 0, 1]);

/** Annex B byte stream of NAL units (B.1): each behind a four-byte start code. */
export function annexB(nalUnits: readonly Buffer[]): Buffer {
  return Buffer.concat(nalUnits.flatMap((n) => [START_CODE, n]));
}
