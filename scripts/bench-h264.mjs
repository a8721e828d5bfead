#!/usr/bin/env node
// `make bench-h264`, a benchmark, not a test: what the camera simulator's H.264 generator
// (src/devcloud/camera/h264/) sustains on this machine, and the bitrate of its stream.
//   encode: frames per second when encoding back to back (no frame clock), idle scene (clock and
//   counter change) and with the moving object, and the cost of one IDR picture (median of 10);
//   bitrate: bytes per second of the stream at its frame rate with its default GOP, idle and moving;
//   rtsp: the agent's RTSP client receiving from the RTSP server in this process for a few seconds
//   (frames/s delivered, Mbit/s, CPU of this process).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { printTable, root } from './bench-lib.mjs';

const { values } = parseArgs({ options: { resolution: { type: 'string', default: '1280x720' }, fps: { type: 'string', default: '15' }, seconds: { type: 'string', default: '5' } } });
const [width, height] = values.resolution.split('x').map(Number);
const fps = Number(values.fps);
const format = { width, height, fps };

const { FrameEncoder, KEYFRAME_QP } = await import(path.join(root, 'dist/devcloud/camera/h264/encoder.js'));
const { pictureFromRgb } = await import(path.join(root, 'dist/devcloud/camera/h264/picture.js'));
const { sceneBackground } = await import(path.join(root, 'dist/devcloud/camera/jpeg.js'));
const { motionBox } = await import(path.join(root, 'dist/devcloud/camera/motion.js'));
const { h264SourceProvider } = await import(path.join(root, 'dist/devcloud/camera/h264/source.js'));
const { startRtspServer } = await import(path.join(root, 'dist/devcloud/camera/rtsp/server.js'));
const { openRtspStream } = await import(path.join(root, 'dist/protocol/rtsp/session.js'));

const bg = pictureFromRgb(await sceneBackground(width, height), width, height);
const bytesOf = (au) => au.nalUnits.reduce((n, b) => n + b.length + 4, 0);

function encodeRun(moving, frames) {
  const enc = new FrameEncoder(format, bg);
  const t0 = Date.now();
  enc.encode(t0, undefined, true);
  const start = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 1; i <= frames; i++) {
    const t = t0 + (i * 1000) / fps;
    bytes += bytesOf(enc.encode(t, moving ? motionBox(width, height, (i * 1000) / fps) : undefined, false));
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { fps: (frames * 1000) / ms, bytesPerFrame: bytes / frames };
}

/** One IDR's encode time, median and worst of n (a keyframe must fit in a frame's slot), and its size. */
function idrCost(n) {
  const enc = new FrameEncoder(format, bg);
  const times = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    bytes = bytesOf(enc.encode(Date.now(), undefined, true));
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(n / 2)], maxMs: times[n - 1], bytes };
}

encodeRun(true, 30); // warm-up
const idle = encodeRun(false, 300);
const moving = encodeRun(true, 300);
const idr = idrCost(10);
const gop = 2 * fps; // the source's default: an IDR every 2 s
const bitrate = (perFrame) => ((idr.bytes + perFrame * (gop - 1)) / gop) * fps * 8;

console.log(`H.264 generator ${width}x${height} at ${fps} fps (Intra_16x16 keyframes at QP ${KEYFRAME_QP}; P frames I_PCM + skip), this machine`);
printTable([
  ['encode, idle scene (clock + counter)', `${idle.fps.toFixed(0)} frames/s`, `${(idle.bytesPerFrame / 1024).toFixed(1)} KiB/frame`],
  ['encode, moving object', `${moving.fps.toFixed(0)} frames/s`, `${(moving.bytesPerFrame / 1024).toFixed(1)} KiB/frame`],
  ['IDR picture (median, worst of 10)', `${idr.ms.toFixed(1)} ms, ${idr.maxMs.toFixed(1)} ms`, `${(idr.bytes / 1024).toFixed(0)} KiB`],
  [`bitrate, idle, IDR every ${gop} frames`, `${(bitrate(idle.bytesPerFrame) / 1e6).toFixed(2)} Mbit/s`, ''],
  [`bitrate, moving, IDR every ${gop} frames`, `${(bitrate(moving.bytesPerFrame) / 1e6).toFixed(2)} Mbit/s`, ''],
]);

// Over RTSP, in real time: one client, one server, this process.
const motionSince = Date.now();
const server = await startRtspServer({ host: '127.0.0.1', source: h264SourceProvider({ objectAt: (now, f) => motionBox(f.width, f.height, now - motionSince) }) });
let packets = 0;
let bytes = 0;
let frames = 0;
const stream = await openRtspStream({
  url: `${server.url}&resolution=${width}x${height}&fps=${fps}`,
  credentials: { current: async () => ({ username: 'u', password: 'p' }) },
  onRtp: (p) => {
    packets++;
    bytes += p.packet.length;
    if (p.marker) frames++;
  },
});
const seconds = Number(values.seconds);
const cpu0 = process.cpuUsage();
const t0 = Date.now();
const [f0, b0] = [frames, bytes];
await new Promise((r) => setTimeout(r, seconds * 1000));
const elapsed = (Date.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await stream.close();
await server.close();
console.log(`\nRTSP server + agent client in one process, ${seconds} s, moving object`);
printTable([
  ['frames delivered', `${((frames - f0) / elapsed).toFixed(1)} frames/s`, `${packets} RTP packets`],
  ['bitrate', `${(((bytes - b0) * 8) / elapsed / 1e6).toFixed(2)} Mbit/s`, ''],
  ['CPU (server + client)', `${(((cpu.user + cpu.system) / 1e6 / elapsed) * 100).toFixed(1)} % of one core`, ''],
]);
