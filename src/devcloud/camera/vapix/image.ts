/**
 * /axis-cgi/jpg/image.cgi: a JPEG of the simulated scene (the moving object while motion is active),
 * with the truncate and endless faults.
 */
import type { ServerResponse } from 'node:http';
import { renderFrame } from '../jpeg.js';
import { motionBox } from '../motion.js';
import type { CameraState } from '../state.js';
import { text } from './reply.js';

const ENDLESS_CHUNK = Buffer.alloc(64 * 1024, 0x55);

export async function snapshot(cam: CameraState, url: URL, res: ServerResponse): Promise<void> {
  const { params, resolutions, stats } = cam;
  const resolution = url.searchParams.get('resolution') ?? params.get('Image.I0.Appearance.Resolution') ?? '1920x1080';
  if (!resolutions.includes(resolution)) {
    text(res, 400, `Error: resolution '${resolution}' is not supported; see Properties.Image.Resolution\n`);
    return;
  }
  const compressionRaw = url.searchParams.get('compression') ?? params.get('Image.I0.Appearance.Compression') ?? '30';
  if (!/^\d{1,3}$/.test(compressionRaw) || Number(compressionRaw) > 100) {
    text(res, 400, `Error: compression '${compressionRaw}' must be an integer 0..100\n`);
    return;
  }
  const [w, h] = resolution.split('x').map(Number) as [number, number];
  const current = cam.faults;

  if (current.endless) {
    stats.snapshots++;
    res.writeHead(200, { 'Content-Type': 'image/jpeg' }); // no length: chunked, never ends
    res.write(Buffer.from([0xff, 0xd8, 0xff, 0xe0]));
    const iv = setInterval(() => {
      if (res.destroyed) return;
      if (!res.writableNeedDrain) res.write(ENDLESS_CHUNK);
    }, 2);
    cam.timers.add(iv);
    stats.openStreams++;
    res.once('close', () => {
      clearInterval(iv);
      cam.timers.delete(iv);
      stats.openStreams--;
    });
    return;
  }

  const now = Date.now();
  const motionSince = cam.motion.activeSince(now);
  const jpeg = await renderFrame({
    width: w,
    height: h,
    quality: Math.min(100, Math.max(1, 100 - Number(compressionRaw))),
    cameraName: cam.opts.name,
    seq: cam.nextSeq(),
    time: new Date(now),
    object: motionSince === undefined ? undefined : motionBox(w, h, now - motionSince),
  });
  if (res.destroyed) return;
  stats.snapshots++;
  res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length });
  if (current.truncate) {
    res.write(jpeg.subarray(0, Math.floor(jpeg.length / 2)), () => res.socket?.destroy());
    return;
  }
  res.end(jpeg);
}
