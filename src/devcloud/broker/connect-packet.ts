/**
 * Just enough of an MQTT CONNECT packet (3.1, 3.1.1 and 5; OASIS MQTT 3.1.1 section 3.1, MQTT 5.0
 * section 3.1) for devcloud's mutual-TLS front to read the client id and to put the certificate's
 * identity in as username and password. Username and password are the last fields of a CONNECT,
 * so they can be replaced without touching anything the client sent before them.
 */

/** CONNECT flags (3.1.2.3). */
const USERNAME = 0x80;
const PASSWORD = 0x40;
const WILL = 0x04;
/** Larger CONNECTs (a will of up to 64 KB fits) are refused rather than buffered. */
const MAX_CONNECT_BYTES = 256 * 1024;

export interface ConnectPacket {
  /** 3 (MQTT 3.1), 4 (3.1.1) or 5. */
  level: number;
  clientId: string;
  /** The whole packet as received. */
  bytes: Buffer;
  /** Offsets: the connect flags byte, and the end of the will fields (where a username starts). */
  flagsAt: number;
  credentialsAt: number;
  /** Where the remaining length starts ends, i.e. the first byte of the variable header. */
  bodyAt: number;
}

class Reader {
  constructor(
    readonly buf: Buffer,
    public at: number,
    readonly end: number,
  ) {}

  need(n: number): void {
    if (this.at + n > this.end) throw new Error('CONNECT packet shorter than its fields');
  }

  byte(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }

  bytes(): Buffer {
    const n = this.u16();
    this.need(n);
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  varint(): number {
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const b = this.byte();
      value += (b & 0x7f) * 128 ** i;
      if ((b & 0x80) === 0) return value;
    }
    throw new Error('malformed variable byte integer');
  }

  skip(n: number): void {
    this.need(n);
    this.at += n;
  }
}

/** Remaining length as a variable byte integer (2.2.3): undefined while incomplete. */
function remainingLength(buf: Buffer): { value: number; size: number } | undefined {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    const b = buf[1 + i];
    if (b === undefined) return undefined;
    value += (b & 0x7f) * 128 ** i;
    if ((b & 0x80) === 0) return { value, size: i + 1 };
  }
  throw new Error('malformed remaining length');
}

/** The first packet of a connection if `buf` holds all of it; undefined while more bytes are needed; throws if it is no CONNECT. */
export function readConnect(buf: Buffer): ConnectPacket | undefined {
  if (buf.length === 0) return undefined;
  if (buf[0] !== 0x10) throw new Error('the first packet is not a CONNECT');
  const length = remainingLength(buf);
  if (length === undefined) return undefined;
  const total = 1 + length.size + length.value;
  if (total > MAX_CONNECT_BYTES) throw new Error(`CONNECT of ${total} bytes is over ${MAX_CONNECT_BYTES}`);
  if (buf.length < total) return undefined;
  const bodyAt = 1 + length.size;
  const r = new Reader(buf, bodyAt, total);
  r.bytes(); // protocol name
  const level = r.byte();
  const flagsAt = r.at;
  const flags = r.byte();
  r.skip(2); // keep alive
  if (level === 5) r.skip(r.varint()); // properties
  const clientId = r.bytes().toString('utf8');
  if (flags & WILL) {
    if (level === 5) r.skip(r.varint()); // will properties
    r.bytes(); // will topic
    r.bytes(); // will payload
  }
  return { level, clientId, bytes: buf.subarray(0, total), flagsAt, credentialsAt: r.at, bodyAt };
}

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

function utf8Field(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/** The same CONNECT with `username` and `password` instead of whatever the client sent. */
export function withCredentials(packet: ConnectPacket, username: string, password: string): Buffer {
  const body = Buffer.from(packet.bytes.subarray(packet.bodyAt, packet.credentialsAt));
  body[packet.flagsAt - packet.bodyAt] = (body[packet.flagsAt - packet.bodyAt]! | USERNAME | PASSWORD) & 0xff;
  const rest = Buffer.concat([body, utf8Field(username), utf8Field(password)]);
  return Buffer.concat([Buffer.from([0x10]), varint(rest.length), rest]);
}

/** CONNACK "not authorized": return code 5 (3.1.1), reason code 0x87 (5). */
export function notAuthorized(level: number): Buffer {
  return level === 5 ? Buffer.from([0x20, 0x03, 0x00, 0x87, 0x00]) : Buffer.from([0x20, 0x02, 0x00, 0x05]);
}
