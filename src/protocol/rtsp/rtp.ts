/**
 * RTP packets as they arrive (RFC 3550 §5.1), kept byte for byte: the agent forwards them to WebRTC
 * unchanged. Parsing only validates the header and tells whether a packet starts an H.264 keyframe
 * (RFC 6184 §5.6 single NAL unit, §5.7.1 STAP-A, §5.8 FU-A).
 */
import { RtspError } from './errors.js';
import { NAL, nalType } from './h264.js';

export interface RtpPacket {
  /** The whole packet, header included, untouched. */
  packet: Buffer;
  payloadType: number;
  marker: boolean;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  /** The payload (a view into packet, padding excluded). */
  payload: Buffer;
  /** Carries an SPS or the start of an IDR picture: a decoder can start here. */
  keyframe: boolean;
}

export function parseRtp(packet: Buffer): RtpPacket {
  if (packet.length < 12) throw new RtspError('protocol', `RTP packet of ${packet.length} bytes is shorter than its 12-byte header`);
  const b0 = packet[0] ?? 0;
  if (b0 >> 6 !== 2) throw new RtspError('protocol', `RTP version ${b0 >> 6}, expected 2 (RFC 3550 §5.1)`);
  let offset = 12 + (b0 & 0x0f) * 4;
  if (b0 & 0x10) {
    if (packet.length < offset + 4) throw new RtspError('protocol', 'RTP header extension runs past the packet');
    offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  }
  let end = packet.length;
  if (b0 & 0x20) end -= packet[packet.length - 1] ?? 0;
  if (offset > end) throw new RtspError('protocol', 'RTP header, extension or padding longer than the packet');
  const b1 = packet[1] ?? 0;
  const payload = packet.subarray(offset, end);
  return {
    packet,
    payloadType: b1 & 0x7f,
    marker: (b1 & 0x80) !== 0,
    sequenceNumber: packet.readUInt16BE(2),
    timestamp: packet.readUInt32BE(4),
    ssrc: packet.readUInt32BE(8),
    payload,
    keyframe: startsKeyframe(payload),
  };
}

/** Whether an H.264 RTP payload carries an SPS or the first fragment of an IDR slice. */
export function startsKeyframe(payload: Buffer): boolean {
  if (payload.length === 0) return false;
  const type = nalType(payload[0] ?? 0);
  if (type === NAL.sps || type === NAL.idr) return true;
  if (type === NAL.fuA) {
    const fuHeader = payload[1] ?? 0;
    const inner = nalType(fuHeader);
    return (fuHeader & 0x80) !== 0 && (inner === NAL.idr || inner === NAL.sps);
  }
  if (type === NAL.stapA) {
    // STAP-A: 16-bit size then NAL unit, repeated (RFC 6184 §5.7.1).
    let pos = 1;
    while (pos + 2 < payload.length) {
      const size = payload.readUInt16BE(pos);
      const t = nalType(payload[pos + 2] ?? 0);
      if (size > 0 && (t === NAL.sps || t === NAL.idr)) return true;
      pos += 2 + size;
    }
  }
  return false;
}
