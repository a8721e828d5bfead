/**
 * The agent's live view against a hostile camera RTSP server (malformed RTSP heads, SDP, interleaved
 * RTP, floods, silence, resets; the protocol-level fuzz run is src/protocol/rtsp/fuzz.test.ts): each
 * viewer's offer either gets no answer or an answer with no video, the agent logs why, and it never
 * crashes (in-process: an uncaught error fails this file); afterwards a requested snapshot still
 * uploads. The shapes follow what broken RTSP servers are reported to send (e.g. RTP before PLAY's
 * answer, Content-Length past the body) and what the fuzz run found worth bounding.
 */
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { requestSnapshot, startTestAgent, startTestDevcloud, waitForReport, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import { connectViewer, ensureChannel, requestLive, waitForLiveReport } from '../helpers/live-viewer.js';

const thing = 'camera-1';
let t: TestDevcloud;
let a: TestAgent;
let hostile: net.Server;
let behaviour: (socket: net.Socket, request: string, step: number, cseq: number) => void = () => undefined;
const sockets = new Set<net.Socket>();
/** Resolves when the agent has no connection to the hostile camera (the next offer opens a fresh one). */
function noConnections(): Promise<void> {
  return Promise.all([...sockets].map((s) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve()))))).then(() => undefined);
}

const okSdp =
  'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;profile-level-id=42e01f\r\na=control:trackID=1\r\n';
const normal = (step: number, cseq: number): string =>
  [
    `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER\r\n\r\n`,
    `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nContent-Type: application/sdp\r\nContent-Base: rtsp://127.0.0.1/axis-media/media.amp/\r\nContent-Length: ${okSdp.length}\r\n\r\n${okSdp}`,
    `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nSession: abc;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`,
    `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nSession: abc\r\n\r\n`,
  ][step] ?? `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nSession: abc\r\n\r\n`;
const interleaved = (payload: Uint8Array, channel = 0): Buffer => {
  const h = Buffer.from([0x24, channel, 0, 0]);
  h.writeUInt16BE(payload.length, 2);
  return Buffer.concat([h, Buffer.from(payload)]);
};

beforeAll(async () => {
  hostile = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let buf = '';
    let step = 0;
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0 || socket.destroyed) return;
        const request = buf.slice(0, end);
        buf = buf.slice(end + 4);
        behaviour(socket, request, step, Number(/CSeq: (\d+)/i.exec(request)?.[1] ?? 0));
        step++;
      }
    });
  });
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  t = await startTestDevcloud({ broker: 'aedes' });
  await ensureChannel(t.dc, thing);
  a = await startTestAgent(t.dc, thing, (c) => {
    c.live.rtspPort = (hostile.address() as net.AddressInfo).port;
    c.live.idleSeconds = 60;
    // Each offer below is a new viewer that never connects (it holds a slot until the agent gives up on it).
    c.live.maxViewers = 10;
  });
  // Subscribed to live requests once its first report is in the shadow.
  await waitForLiveReport(t.dc, thing, (r) => r.state === 'off');
}, 60_000);

afterAll(async () => {
  await a?.stop();
  await t?.cleanup();
  await new Promise<void>((resolve) => hostile?.close(() => resolve()));
});

type Mutation = { step: number; kind: 'bytes' | 'status' | 'sdp' | 'rtp-garbage' | 'rtp-flood' | 'length' | 'headers' | 'close' | 'silence'; bytes: Uint8Array; status: number };

function behave(m: Mutation): typeof behaviour {
  return (socket, _request, step, cseq) => {
    if (step !== m.step) return void socket.write(normal(step, cseq));
    // After misbehaving once the camera hangs up, so that the next viewer makes the agent open anew.
    if (m.kind !== 'silence') setTimeout(() => socket.end(), 50);
    switch (m.kind) {
      case 'bytes':
        return void socket.write(Buffer.from(m.bytes));
      case 'status':
        return void socket.write(normal(step, cseq).replace('200 OK', `${m.status} X`));
      case 'sdp':
        return void socket.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nContent-Type: application/sdp\r\nContent-Length: ${m.bytes.length}\r\n\r\n${Buffer.from(m.bytes).toString('latin1')}`);
      case 'rtp-garbage':
        socket.write(normal(step, cseq));
        return void socket.write(interleaved(m.bytes));
      case 'rtp-flood':
        socket.write(normal(step, cseq));
        for (let i = 0; i < 200; i++) socket.write(interleaved(Buffer.concat([Buffer.from([0x80, 96, 0, i & 0xff, 0, 0, 0, 0, 1, 2, 3, 4]), Buffer.from(m.bytes)])));
        return;
      case 'length':
        return void socket.write(normal(step, cseq).replace(/\r\n\r\n/, `\r\nContent-Length: ${m.bytes.length * 100_000}\r\n\r\n`));
      case 'headers':
        return void socket.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\n${'X-A: b\r\n'.repeat(200)}\r\n`);
      case 'close':
        return void socket.destroy();
      case 'silence':
        return;
    }
  };
}

it('survives a camera that answers live view with garbage, and still uploads a snapshot', async () => {
  const mutations = fc.sample(
    fc.record({
      step: fc.integer({ min: 0, max: 3 }),
      kind: fc.constantFrom<Mutation['kind']>('bytes', 'status', 'sdp', 'rtp-garbage', 'rtp-flood', 'length', 'headers', 'close', 'silence'),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }),
      status: fc.integer({ min: 100, max: 999 }),
    }),
    { numRuns: 9, seed: 2212 },
  );
  await requestLive(t.dc, thing);
  let i = 0;
  for (const m of mutations) {
    behaviour = behave(m);
    const clientId = `hostile-${i++}`;
    const viewer = await connectViewer(t.dc, thing, clientId);
    // Either the agent cannot open the stream (it logs why and sends nothing) or it answers.
    const outcome = await Promise.race([
      a.waitForLog((l) => l['event'] === 'live.viewer-failed' && l['clientId'] === clientId, 30_000).then(() => 'failed'),
      viewer.answer(30_000).then(() => 'answered'),
    ]);
    expect(['failed', 'answered']).toContain(outcome);
    await viewer.close();
    await noConnections();
  }
  expect(a.logs.some((l) => l['event'] === 'live.viewer-failed')).toBe(true);
  const request = await requestSnapshot(t.dc, thing);
  expect((await waitForReport(t.dc, thing, request.id)).status).toBe('uploaded');
}, 240_000);
