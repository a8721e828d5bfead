import net from 'node:net';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { RtspError } from './errors.js';
import { H264ParseError, parseSps } from './h264.js';
import { RtspStreamParser, type RtspLimits } from './message.js';
import { parseRtp } from './rtp.js';
import { parseH264Track } from './sdp.js';
import { openRtspStream } from './session.js';

/**
 * What a hostile or broken camera can send the agent: malformed RTSP, SDP, SPS and interleaved RTP.
 * The client must fail with a typed error, never throw anything else or crash the process, and never
 * hold more bytes than its bounds allow (docs/security.md, docs/protocol-rtsp.md).
 */

const onlyTyped = (fn: () => unknown, ...types: (new (...a: never[]) => Error)[]) => {
  try {
    fn();
  } catch (e) {
    if (!types.some((t) => e instanceof t)) throw e;
  }
};

const chunks = fc.array(
  fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.constantFrom('RTSP/1.0 200 OK\r\n', 'CSeq: 1\r\n', 'Content-Length: 5\r\n', '\r\n', 'Content-Length: -1\r\n', 'Content-Length: 99999999\r\n', ' folded\r\n', 'GET_PARAMETER * RTSP/1.0\r\n', '$\x00\xff\xff', '$\x01\x00\x04abcd', 'x'.repeat(200)).map((s) => Buffer.from(s, 'latin1')),
  ),
  { maxLength: 40 },
);

describe('fuzz: malformed input never escapes as anything but a typed error', () => {
  it('RTSP stream parser: only RtspError, and bounded buffering', () => {
    const limits: RtspLimits = { maxLineBytes: 128, maxHeaders: 8, maxBodyBytes: 256, maxFrameBytes: 512 };
    const bound = Math.max((limits.maxHeaders + 2) * (limits.maxLineBytes + 2), limits.maxBodyBytes, 4 + limits.maxFrameBytes);
    fc.assert(
      fc.property(chunks, (parts) => {
        const parser = new RtspStreamParser(limits, () => undefined, () => undefined);
        for (const p of parts) {
          try {
            parser.push(Buffer.from(p));
          } catch (e) {
            if (!(e instanceof RtspError)) throw e;
            return;
          }
          expect(parser.bufferedBytes).toBeLessThanOrEqual(bound);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('each bound stops its own flood: endless line, header count, body size, frame size', () => {
    const limits: RtspLimits = { maxLineBytes: 128, maxHeaders: 8, maxBodyBytes: 256, maxFrameBytes: 512 };
    const flood = (parts: string[]) => {
      const parser = new RtspStreamParser(limits, () => undefined, () => undefined);
      try {
        for (const p of parts) parser.push(Buffer.from(p, 'latin1'));
      } catch (e) {
        return e;
      }
      return parser.bufferedBytes;
    };
    expect(flood(['RTSP/1.0 200 OK\r\nX-Long: ', ...Array<string>(50).fill('y'.repeat(100))])).toMatchObject({ kind: 'limit', message: expect.stringMatching(/line longer than 128/) as unknown });
    expect(flood(['RTSP/1.0 200 OK\r\n', ...Array<string>(20).fill('X-A: b\r\n')])).toMatchObject({ kind: 'limit', message: expect.stringMatching(/more than 8 header/) as unknown });
    expect(flood(['RTSP/1.0 200 OK\r\nContent-Length: 257\r\n\r\n'])).toMatchObject({ kind: 'limit', message: expect.stringMatching(/body of 257 bytes/) as unknown });
    expect(flood(['$\x00\x02\x01'])).toMatchObject({ kind: 'limit', message: expect.stringMatching(/frame of 513 bytes/) as unknown });
    expect(flood(['$\x00\x02\x00', 'z'.repeat(511)])).toBe(515); // at the bound: held until complete
  });

  it('SDP: only RtspError', () => {
    const line = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom('v=0', 'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=rtpmap:96 H264/8000', 'a=control:*', 'a=control:rtsp://x', 'a=control:%%%', 'a=fmtp:96 packetization-mode=2', 'a=fmtp:96 profile-level-id=zz; sprop-parameter-sets=Z0IAKeKQCgDLYC3AQEBpB4kRUA==,aM48gA==', 'a=fmtp:96 sprop-parameter-sets=!!,Z0'),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 20 }), (lines) => onlyTyped(() => parseH264Track(lines.join('\r\n'), 'rtsp://127.0.0.1/a'), RtspError)),
      { numRuns: 3000 },
    );
  });

  it('SPS and RTP: only H264ParseError / RtspError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        onlyTyped(() => parseSps(Buffer.concat([Buffer.from([0x67]), bytes])), H264ParseError);
        onlyTyped(() => parseRtp(Buffer.from(bytes)), RtspError);
        onlyTyped(() => parseRtp(Buffer.concat([Buffer.from([0x80 | (bytes[0] ?? 0) % 64]), bytes])), RtspError);
      }),
      { numRuns: 5000 },
    );
  });
});

/** A fake camera that answers each request with the next scripted reply (then whatever the script says). */
const fake: { server?: net.Server; script: Buffer[][] } = { script: [] };
afterAll(() => fake.server?.close());

const okSdp = 'v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;profile-level-id=42e01f\r\na=control:trackID=1\r\n';
const replies = (cseq: number) => ({
  options: `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER\r\n\r\n`,
  describe: `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nContent-Type: application/sdp\r\nContent-Length: ${okSdp.length}\r\n\r\n${okSdp}`,
  setup: `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nSession: abc;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`,
  play: `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nSession: abc\r\n\r\n`,
});

describe('fuzz: the client against a camera that answers garbage', () => {
  it('every open either succeeds or rejects with an RtspError, and the process survives', async () => {
    const mutation = fc.record({
      step: fc.integer({ min: 0, max: 3 }),
      kind: fc.constantFrom('bytes', 'status', 'cseq', 'length', 'sdp', 'rtp', 'close', 'silence', 'headers'),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 400 }),
      status: fc.integer({ min: 100, max: 999 }),
    });
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const server = net.createServer((socket) => {
          let step = 0;
          let buf = '';
          socket.on('error', () => undefined);
          socket.on('data', (d: Buffer) => {
            buf += d.toString('latin1');
            for (;;) {
              const end = buf.indexOf('\r\n\r\n');
              if (end < 0) return;
              const req = buf.slice(0, end);
              buf = buf.slice(end + 4);
              const cseq = Number(/CSeq: (\d+)/.exec(req)?.[1] ?? 0);
              const r = replies(cseq);
              const normal = [r.options, r.describe, r.setup, r.play][step] ?? `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\n\r\n`;
              if (step !== m.step || socket.destroyed) {
                socket.write(normal);
              } else if (m.kind === 'bytes') socket.write(Buffer.from(m.bytes));
              else if (m.kind === 'status') socket.write(normal.replace('200 OK', `${m.status} X`));
              else if (m.kind === 'cseq') socket.write(normal.replace(`CSeq: ${cseq}`, `CSeq: ${cseq + 7}`));
              else if (m.kind === 'length') socket.write(normal.replace(/\r\n\r\n/, `\r\nContent-Length: ${m.bytes.length * 1000}\r\n\r\n`));
              else if (m.kind === 'sdp') socket.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nContent-Length: ${m.bytes.length}\r\n\r\n${Buffer.from(m.bytes).toString('latin1')}`);
              else if (m.kind === 'rtp') {
                socket.write(normal);
                const h = Buffer.from([0x24, 0, 0, 0]);
                h.writeUInt16BE(m.bytes.length, 2);
                socket.write(Buffer.concat([h, Buffer.from(m.bytes)]));
              } else if (m.kind === 'close') socket.destroy();
              else if (m.kind === 'headers') socket.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\n${'X-A: b\r\n'.repeat(100)}\r\n`);
              // 'silence': no answer at all
              step++;
            }
          });
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        fake.server = server;
        const port = (server.address() as net.AddressInfo).port;
        try {
          const s = await openRtspStream({ url: `rtsp://127.0.0.1:${port}/axis-media/media.amp?videocodec=h264`, credentials: { current: () => Promise.resolve({ username: 'u', password: 'p' }) }, timeoutMs: 300, stallTimeoutMs: 200, onRtp: () => undefined });
          const ended = await Promise.race([s.ended, new Promise<'running'>((r) => setTimeout(() => r('running'), 50))]);
          expect(ended === 'running' || ended === undefined || ended instanceof RtspError).toBe(true);
          await s.close();
        } catch (e) {
          expect(e).toBeInstanceOf(RtspError);
        } finally {
          await new Promise<void>((r) => {
            server.close(() => r());
            server.unref();
          });
        }
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});
