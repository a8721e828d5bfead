/**
 * RTSP message framing on a TCP stream (RFC 2326 §4, §10.12; RFC 7826 §8, §14): request and response
 * heads, bodies by Content-Length, and `$`-prefixed interleaved binary frames between them. Used by
 * the agent's client (reading a camera that may be hostile) and by the simulator's server, with
 * bounds on everything: a peer can make the parser hold at most one head plus one body or one frame.
 */
import { RtspError } from './errors.js';

export interface RtspLimits {
  /** Longest start or header line, in bytes. */
  maxLineBytes: number;
  /** Most header lines in one message. */
  maxHeaders: number;
  /** Largest message body (an SDP, a parameter list). */
  maxBodyBytes: number;
  /** Largest interleaved frame payload (its length field allows 65535). */
  maxFrameBytes: number;
}

export const DEFAULT_LIMITS: RtspLimits = { maxLineBytes: 4096, maxHeaders: 64, maxBodyBytes: 64 * 1024, maxFrameBytes: 65535 };

export type RtspHeaders = Map<string, string[]>;

export interface RtspResponse {
  type: 'response';
  status: number;
  reason: string;
  headers: RtspHeaders;
  body: Buffer;
}

export interface RtspRequest {
  type: 'request';
  method: string;
  uri: string;
  headers: RtspHeaders;
  body: Buffer;
}

export type RtspMessage = RtspResponse | RtspRequest;

/** First value of a header (names are case-insensitive, stored lower-case). */
export function header(headers: RtspHeaders, name: string): string | undefined {
  return headers.get(name.toLowerCase())?.[0];
}

const STATUS_LINE = /^RTSP\/1\.\d (\d{3})(?: (.*))?$/;
const REQUEST_LINE = /^([A-Z][A-Z_]{0,31}) (\S+) RTSP\/1\.\d$/;
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*:[ \t]*(.*)$/;

export class RtspStreamParser {
  private buf: Buffer = Buffer.alloc(0);
  private pending: { head: Omit<RtspResponse, 'body'> | Omit<RtspRequest, 'body'>; length: number } | undefined;
  private failed = false;

  constructor(
    private readonly limits: RtspLimits,
    private readonly onMessage: (m: RtspMessage) => void,
    private readonly onFrame: (channel: number, payload: Buffer) => void,
  ) {}

  /** Bytes held while waiting for the rest of a message or frame. */
  get bufferedBytes(): number {
    return this.buf.length;
  }

  /**
   * Feeds bytes from the socket; calls back for every complete message and frame. Throws RtspError
   * ('protocol' or 'limit') on bytes it cannot accept; after that the stream is unusable.
   */
  push(chunk: Buffer): void {
    if (this.failed) throw new RtspError('protocol', 'RTSP stream already failed');
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    try {
      while (this.step());
    } catch (e) {
      this.failed = true;
      this.buf = Buffer.alloc(0);
      throw e;
    }
  }

  /** One message or frame out of the buffer; false when more bytes are needed. */
  private step(): boolean {
    if (this.pending) {
      if (this.buf.length < this.pending.length) return false;
      const body = Buffer.from(this.buf.subarray(0, this.pending.length));
      this.buf = this.buf.subarray(this.pending.length);
      const head = this.pending.head;
      this.pending = undefined;
      this.onMessage({ ...head, body });
      return true;
    }
    if (this.buf.length === 0) return false;
    if (this.buf[0] === 0x24) {
      if (this.buf.length < 4) return false;
      const length = this.buf.readUInt16BE(2);
      if (length > this.limits.maxFrameBytes) throw new RtspError('limit', `interleaved frame of ${length} bytes exceeds the limit of ${this.limits.maxFrameBytes}`);
      if (this.buf.length < 4 + length) return false;
      const channel = this.buf[1] ?? 0;
      const payload = Buffer.from(this.buf.subarray(4, 4 + length));
      this.buf = this.buf.subarray(4 + length);
      this.onFrame(channel, payload);
      return true;
    }
    return this.head();
  }

  private head(): boolean {
    const lines: string[] = [];
    let pos = 0;
    for (;;) {
      const nl = this.buf.indexOf(0x0a, pos);
      const lineEnd = nl < 0 ? this.buf.length : nl;
      if (lineEnd - pos > this.limits.maxLineBytes) throw new RtspError('limit', `RTSP line longer than ${this.limits.maxLineBytes} bytes`);
      if (nl < 0) return false;
      let line = this.buf.toString('latin1', pos, nl);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      pos = nl + 1;
      if (line === '') {
        if (lines.length === 0) {
          // Empty lines between messages are tolerated (RFC 7826 §8: a CRLF may precede a message).
          this.buf = this.buf.subarray(pos);
          pos = 0;
          if (this.buf.length === 0 || this.buf[0] === 0x24) return this.buf.length > 0;
          continue;
        }
        break;
      }
      lines.push(line);
      if (lines.length > this.limits.maxHeaders + 1) throw new RtspError('limit', `RTSP message with more than ${this.limits.maxHeaders} header lines`);
    }
    this.buf = this.buf.subarray(pos);
    const [start = '', ...rest] = lines;
    const headers: RtspHeaders = new Map();
    let last: string[] | undefined;
    for (const line of rest) {
      if ((line.startsWith(' ') || line.startsWith('\t')) && last && last.length > 0) {
        last[last.length - 1] += ` ${line.trim()}`; // folded continuation line (RFC 2326 §4.2)
        continue;
      }
      const m = HEADER_LINE.exec(line);
      if (!m) throw new RtspError('protocol', `malformed RTSP header line: ${JSON.stringify(line.slice(0, 80))}`);
      const name = (m[1] ?? '').toLowerCase();
      last = headers.get(name) ?? [];
      last.push((m[2] ?? '').trim());
      headers.set(name, last);
    }
    const lengthText = header(headers, 'content-length') ?? '0';
    if (!/^\d{1,9}$/.test(lengthText)) throw new RtspError('protocol', `malformed Content-Length: ${JSON.stringify(lengthText.slice(0, 20))}`);
    const length = Number(lengthText);
    if (length > this.limits.maxBodyBytes) throw new RtspError('limit', `RTSP body of ${length} bytes exceeds the limit of ${this.limits.maxBodyBytes}`);
    const status = STATUS_LINE.exec(start);
    if (status) {
      this.pending = { head: { type: 'response', status: Number(status[1]), reason: status[2] ?? '', headers }, length };
      return true;
    }
    const request = REQUEST_LINE.exec(start);
    if (request) {
      this.pending = { head: { type: 'request', method: request[1] ?? '', uri: request[2] ?? '', headers }, length };
      return true;
    }
    throw new RtspError('protocol', `not an RTSP start line: ${JSON.stringify(start.slice(0, 80))}`);
  }
}

/** A message head and body as bytes. Header values must not contain CR or LF (checked). */
export function serializeMessage(startLine: string, headers: ReadonlyArray<readonly [string, string | number]>, body?: Buffer | string): Buffer {
  const bodyBuf = typeof body === 'string' ? Buffer.from(body, 'utf8') : (body ?? Buffer.alloc(0));
  let head = `${startLine}\r\n`;
  for (const [name, value] of headers) {
    const v = String(value);
    if (/[\r\n]/.test(v) || /[\r\n:]/.test(name)) throw new RangeError(`RTSP header ${name} contains a line break`);
    head += `${name}: ${v}\r\n`;
  }
  if (bodyBuf.length > 0) head += `Content-Length: ${bodyBuf.length}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'utf8'), bodyBuf]);
}

/** `$`, channel, 16-bit length, payload (RFC 2326 §10.12). */
export function interleavedFrame(channel: number, payload: Buffer): Buffer {
  if (payload.length > 0xffff) throw new RangeError(`interleaved payload of ${payload.length} bytes does not fit the 16-bit length`);
  const h = Buffer.from([0x24, channel & 0xff, 0, 0]);
  h.writeUInt16BE(payload.length, 2);
  return Buffer.concat([h, payload]);
}
