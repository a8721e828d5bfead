import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDigestVerifier } from '../../../protocol/digest.js';
import { DEFAULT_LIMITS, RtspStreamParser, header, type RtspResponse } from '../../../protocol/rtsp/message.js';
import { h264SourceProvider } from '../h264/source.js';
import { DEFAULT_MAX_PAYLOAD, RtpPacketizer } from './packetizer.js';
import { startRtspServer, type RtspServer, type RtspServerOptions } from './server.js';

/**
 * The simulated camera's RTSP server spoken to byte by byte, for the answers a compliant client
 * never provokes: status codes of RFC 2326 §7.1.1 (401, 451, 454, 455, 461), the session timeout
 * (§12.37), malformed requests. Axis behaviour followed: `/axis-media/media.amp`, Renew-Stream.
 */

let server: RtspServer | undefined;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.close();
  server = undefined;
});

async function camera(over: Partial<RtspServerOptions> = {}): Promise<RtspServer> {
  server = await startRtspServer({ host: '127.0.0.1', source: h264SourceProvider({}), ...over });
  return server;
}

/** A raw RTSP connection: send text, await the next response; interleaved frames are counted. */
async function raw(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  await new Promise((r) => socket.once('connect', r));
  const responses: RtspResponse[] = [];
  let frames = 0;
  let waiter: (() => void) | undefined;
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  const parser = new RtspStreamParser(
    DEFAULT_LIMITS,
    (m) => {
      if (m.type === 'response') responses.push(m);
      waiter?.();
    },
    () => {
      frames++;
      waiter?.();
    },
  );
  socket.on('data', (d: Buffer) => parser.push(d));
  return {
    closed,
    get frames() {
      return frames;
    },
    async send(text: string): Promise<RtspResponse> {
      const before = responses.length;
      socket.write(text.replace(/\n/g, '\r\n'));
      while (responses.length === before) await new Promise<void>((r) => (waiter = r));
      return responses[before] as RtspResponse;
    },
    async untilFrames(n: number): Promise<void> {
      while (frames < n) await new Promise<void>((r) => (waiter = r));
    },
  };
}

const URL_ = (port: number, q = '?videocodec=h264&resolution=320x180') => `rtsp://127.0.0.1:${port}/axis-media/media.amp${q}`;

describe('RTSP server of the simulated camera', () => {
  it('OPTIONS needs no credentials; DESCRIBE without them gets 401 with a Digest challenge per algorithm', async () => {
    const cam = await camera({ auth: createDigestVerifier({ realm: 'AXIS_X', users: { u: 'p' }, algorithms: ['SHA-256', 'MD5'] }) });
    const c = await raw(cam.port);
    const options = await c.send(`OPTIONS ${URL_(cam.port)} RTSP/1.0\nCSeq: 1\n\n`);
    expect(options.status).toBe(200);
    expect(header(options.headers, 'public')).toContain('SET_PARAMETER');
    const describe = await c.send(`DESCRIBE ${URL_(cam.port)} RTSP/1.0\nCSeq: 2\n\n`);
    expect(describe.status).toBe(401);
    expect(header(describe.headers, 'cseq')).toBe('2');
    expect(describe.headers.get('www-authenticate')?.map((h) => /algorithm=([\w-]+)/.exec(h)?.[1])).toEqual(['SHA-256', 'MD5']);
  });

  it('DESCRIBE answers an Axis-like SDP with the stream asked for; wrong paths and parameters are refused', async () => {
    const cam = await camera();
    const c = await raw(cam.port);
    const ok = await c.send(`DESCRIBE ${URL_(cam.port)} RTSP/1.0\nCSeq: 1\nAccept: application/sdp\n\n`);
    expect(ok.status).toBe(200);
    expect(header(ok.headers, 'content-base')).toBe(`rtsp://127.0.0.1:${cam.port}/axis-media/media.amp/`);
    const sdp = ok.body.toString();
    expect(sdp).toMatch(/^v=0\r\n/);
    expect(sdp).toContain('a=rtpmap:96 H264/90000\r\n');
    expect(sdp).toMatch(/a=fmtp:96 packetization-mode=1; profile-level-id=42e00c; sprop-parameter-sets=Z[A-Za-z0-9+/=]+,aM[A-Za-z0-9+/=]+\r\n/);
    expect(sdp).toContain('a=control:trackID=1\r\n');
    expect((await c.send(`DESCRIBE rtsp://127.0.0.1:${cam.port}/other RTSP/1.0\nCSeq: 2\n\n`)).status).toBe(404);
    const mjpeg = await c.send(`DESCRIBE ${URL_(cam.port, '?videocodec=jpeg')} RTSP/1.0\nCSeq: 3\n\n`);
    expect([mjpeg.status, mjpeg.body.toString()]).toEqual([400, 'videocodec=jpeg: this camera streams h264 only\r\n']);
    expect((await c.send(`DESCRIBE ${URL_(cam.port, '?resolution=99999x1')} RTSP/1.0\nCSeq: 4\n\n`)).status).toBe(400);
  });

  it('SETUP over UDP gets 461; an unknown session 454; an unknown parameter 451; no CSeq 400', async () => {
    const cam = await camera();
    const c = await raw(cam.port);
    await c.send(`DESCRIBE ${URL_(cam.port)} RTSP/1.0\nCSeq: 1\n\n`);
    const track = `rtsp://127.0.0.1:${cam.port}/axis-media/media.amp/trackID=1`;
    expect((await c.send(`SETUP ${track} RTSP/1.0\nCSeq: 2\nTransport: RTP/AVP;unicast;client_port=5000-5001\n\n`)).status).toBe(461);
    expect((await c.send(`PLAY ${URL_(cam.port)} RTSP/1.0\nCSeq: 3\nSession: 1234\n\n`)).status).toBe(454);
    const setup = await c.send(`SETUP ${track} RTSP/1.0\nCSeq: 4\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\n\n`);
    expect(setup.status).toBe(200);
    expect(header(setup.headers, 'transport')).toMatch(/^RTP\/AVP\/TCP;unicast;interleaved=0-1;ssrc=[0-9A-F]{8}/);
    const session = header(setup.headers, 'session')?.split(';')[0] ?? '';
    expect(header(setup.headers, 'session')).toBe(`${session};timeout=60`);
    const param = await c.send(`SET_PARAMETER ${URL_(cam.port)} RTSP/1.0\nCSeq: 5\nSession: ${session}\nContent-Type: text/parameters\nContent-Length: 12\n\nColor: blue\n`);
    expect(param.status).toBe(451);
    expect((await c.send(`OPTIONS * RTSP/1.0\nUser-Agent: x\n\n`)).status).toBe(400);
  });

  it('another connection cannot use or tear down a session it did not set up', async () => {
    const cam = await camera();
    const a = await raw(cam.port);
    await a.send(`DESCRIBE ${URL_(cam.port)} RTSP/1.0\nCSeq: 1\n\n`);
    const setup = await a.send(`SETUP rtsp://127.0.0.1:${cam.port}/axis-media/media.amp/trackID=1 RTSP/1.0\nCSeq: 2\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\n\n`);
    const session = header(setup.headers, 'session')?.split(';')[0] ?? '';
    const b = await raw(cam.port);
    expect((await b.send(`TEARDOWN ${URL_(cam.port)} RTSP/1.0\nCSeq: 1\nSession: ${session}\n\n`)).status).toBe(454);
    expect(cam.sessions).toBe(1);
  });

  it('a session without requests for its timeout ends and its stream stops', async () => {
    const cam = await camera({ sessionTimeoutS: 1 });
    const c = await raw(cam.port);
    await c.send(`DESCRIBE ${URL_(cam.port, '?resolution=320x180&fps=10')} RTSP/1.0\nCSeq: 1\n\n`);
    const setup = await c.send(`SETUP rtsp://127.0.0.1:${cam.port}/axis-media/media.amp/trackID=1 RTSP/1.0\nCSeq: 2\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\n\n`);
    const session = header(setup.headers, 'session')?.split(';')[0] ?? '';
    expect((await c.send(`PLAY ${URL_(cam.port)} RTSP/1.0\nCSeq: 3\nSession: ${session}\n\n`)).status).toBe(200);
    await c.untilFrames(3);
    await expect.poll(() => cam.sessions, { timeout: 3000 }).toBe(0);
    const frames = c.frames;
    await new Promise((r) => setTimeout(r, 300));
    expect(c.frames).toBe(frames);
    expect((await c.send(`GET_PARAMETER ${URL_(cam.port)} RTSP/1.0\nCSeq: 4\nSession: ${session}\n\n`)).status).toBe(454);
  });

  it('a request line longer than the limit gets 400 and the connection is closed', async () => {
    const cam = await camera();
    const c = await raw(cam.port);
    const res = await c.send(`DESCRIBE rtsp://127.0.0.1/${'a'.repeat(5000)} RTSP/1.0\nCSeq: 1\n\n`);
    expect(res.status).toBe(400);
    await c.closed;
  });
});

describe('RTP packetizer (RFC 6184)', () => {
  it('small NAL units go alone, large ones in FU-A fragments; marker only on the access unit\'s last packet', () => {
    const p = new RtpPacketizer();
    const small = Buffer.from([0x67, 1, 2, 3]);
    const big = Buffer.concat([Buffer.from([0x65]), Buffer.alloc(DEFAULT_MAX_PAYLOAD * 2 + 10, 7)]);
    const packets = p.packetize([small, big], 1000);
    expect(packets).toHaveLength(1 + 3);
    expect(packets.map((x) => (x[1] ?? 0) >> 7)).toEqual([0, 0, 0, 1]);
    expect(packets.every((x) => x.length <= DEFAULT_MAX_PAYLOAD + 12)).toBe(true);
    expect(packets[0]?.subarray(12)).toEqual(small);
    const fus = packets.slice(1).map((x) => x.subarray(12));
    expect(fus.map((f) => f[0])).toEqual([0x7c, 0x7c, 0x7c]); // F=0, NRI=3, type 28
    expect(fus.map((f) => (f[1] ?? 0) & 0xe0)).toEqual([0x80, 0x00, 0x40]); // S, -, E
    expect(fus.every((f) => ((f[1] ?? 0) & 0x1f) === 5)).toBe(true);
    expect(Buffer.concat([Buffer.from([0x65]), ...fus.map((f) => f.subarray(2))])).toEqual(big);
    const ts = packets.map((x) => x.readUInt32BE(4));
    expect(new Set(ts).size).toBe(1);
    const next = p.packetize([small], 1000 + 1000 / 15);
    expect((next[0]?.readUInt32BE(4) ?? 0) - (ts[0] ?? 0)).toBe(6000); // 90 kHz clock
    expect(next[0]?.readUInt16BE(2)).toBe(((packets[3]?.readUInt16BE(2) ?? 0) + 1) & 0xffff);
  });
});
