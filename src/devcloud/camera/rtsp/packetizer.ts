/**
 * H.264 over RTP as RFC 6184 describes for packetization-mode=1: a NAL unit that fits the payload
 * size goes alone (§5.6), a larger one in FU-A fragments (§5.8); the marker bit is set on the last
 * packet of an access unit (§5.1); timestamps are the 90 kHz capture clock (§5.1).
 */
import { randomBytes } from 'node:crypto';

/** RTP payload bytes per packet: a 1500-byte Ethernet MTU less IP, TCP/UDP and RTP headers, with room to spare. */
export const DEFAULT_MAX_PAYLOAD = 1400;
export const H264_PAYLOAD_TYPE = 96;
const FU_A = 28;

export class RtpPacketizer {
  readonly ssrc: number;
  private seq: number;
  private readonly clockBase: number;

  constructor(
    private readonly maxPayload = DEFAULT_MAX_PAYLOAD,
    private readonly payloadType = H264_PAYLOAD_TYPE,
  ) {
    // Random SSRC, sequence and timestamp origins (RFC 3550 §5.1).
    const r = randomBytes(10);
    this.ssrc = r.readUInt32BE(0);
    this.seq = r.readUInt16BE(4);
    this.clockBase = r.readUInt32BE(6);
  }

  /** The next sequence number to be sent (RTP-Info's seq). */
  get nextSequence(): number {
    return this.seq;
  }

  /** 90 kHz RTP timestamp of a capture time (ms). */
  timestamp(captureTimeMs: number): number {
    return (this.clockBase + Math.round(captureTimeMs * 90)) % 2 ** 32;
  }

  /** The packets of one access unit, in order. */
  packetize(nalUnits: readonly Buffer[], captureTimeMs: number): Buffer[] {
    const ts = this.timestamp(captureTimeMs);
    const out: Buffer[] = [];
    nalUnits.forEach((nal, i) => {
      const lastNal = i === nalUnits.length - 1;
      if (nal.length <= this.maxPayload) {
        out.push(this.packet(ts, lastNal, [nal]));
        return;
      }
      const indicator = ((nal[0] ?? 0) & 0xe0) | FU_A; // F and NRI of the NAL unit (§5.8)
      const type = (nal[0] ?? 0) & 0x1f;
      const chunk = this.maxPayload - 2;
      for (let pos = 1; pos < nal.length; pos += chunk) {
        const end = Math.min(nal.length, pos + chunk);
        const start = pos === 1;
        const last = end === nal.length;
        const fuHeader = (start ? 0x80 : 0) | (last ? 0x40 : 0) | type;
        out.push(this.packet(ts, lastNal && last, [Buffer.from([indicator, fuHeader]), nal.subarray(pos, end)]));
      }
    });
    return out;
  }

  private packet(ts: number, marker: boolean, parts: Buffer[]): Buffer {
    const h = Buffer.alloc(12);
    h[0] = 0x80; // V=2, no padding, no extension, no CSRC
    h[1] = (marker ? 0x80 : 0) | this.payloadType;
    h.writeUInt16BE(this.seq, 2);
    h.writeUInt32BE(ts, 4);
    h.writeUInt32BE(this.ssrc, 8);
    this.seq = (this.seq + 1) & 0xffff;
    return Buffer.concat([h, ...parts]);
  }
}
