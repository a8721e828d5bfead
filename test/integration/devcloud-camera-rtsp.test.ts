/**
 * Each camera of `cloudcam devcloud` serves RTSP where devcloud.json says (cameras.{thing}.rtspUrl),
 * with the account devcloud.json gives for its HTTP side: what the agent's `live.rtspPort` points at.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readDevcloudInfo, type DevcloudInfo } from '../../src/devcloud/info.js';
import { openRtspStream } from '../../src/protocol/rtsp/session.js';
import { startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';

let dc: TestDevcloud;
let info: DevcloudInfo;

beforeAll(async () => {
  dc = await startTestDevcloud({ broker: 'aedes', cameras: 2, cameraProfiles: ['axis-os-12', 'axis-os-11'] });
  info = await readDevcloudInfo(dc.dir);
});

afterAll(() => dc.cleanup());

it.each(['camera-1', 'camera-2'])('%s: devcloud.json rtspUrl streams with the camera account; the session ends on close', async (thing) => {
  const entry = info.cameras[thing]!;
  const camera = dc.dc.cameras.get(thing)!;
  expect(entry.rtspUrl).toBe(`rtsp://127.0.0.1:${entry.rtspPort}/axis-media/media.amp?videocodec=h264`);
  let keyframe!: () => void;
  const gotKeyframe = new Promise<void>((resolve) => (keyframe = resolve));
  const stream = await openRtspStream({
    url: entry.rtspUrl,
    credentials: { current: () => Promise.resolve({ username: entry.username, password: entry.password }) },
    onRtp: (p) => {
      if (p.keyframe) keyframe();
    },
  });
  await gotKeyframe;
  expect(stream.track.sps).toMatchObject({ width: 1280, height: 720 });
  expect(camera.rtsp.sessions).toBe(1);
  await stream.close();
  expect(await camera.rtsp.untilSessions((n) => n === 0, 5000)).toBe(0);
});
