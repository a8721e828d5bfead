/**
 * The stream address Axis cameras serve (`rtsp://HOST/axis-media/media.amp?videocodec=h264`, Axis's
 * video streaming pages) and the query parameters the simulator honours: `resolution=WxH` and `fps`
 * (VAPIX stream parameters; fps=0 means the camera's default rate).
 */
import { checkFormat, type StreamFormat } from '../h264/parameter-sets.js';

export const MEDIA_PATH = '/axis-media/media.amp';
export const DEFAULT_FORMAT: StreamFormat = { width: 1280, height: 720, fps: 15 };

export function formatFromQuery(q: URLSearchParams): StreamFormat | { problem: string } {
  const codec = q.get('videocodec') ?? 'h264';
  if (codec.toLowerCase() !== 'h264') return { problem: `videocodec=${codec.slice(0, 16)}: this camera streams h264 only` };
  const format = { ...DEFAULT_FORMAT };
  const resolution = q.get('resolution');
  if (resolution !== null) {
    const m = /^(\d{2,4})x(\d{2,4})$/.exec(resolution);
    if (!m) return { problem: `resolution=${resolution.slice(0, 16)}: use WIDTHxHEIGHT, e.g. 1280x720` };
    format.width = Number(m[1]);
    format.height = Number(m[2]);
  }
  const fps = q.get('fps');
  if (fps !== null && fps !== '0') {
    if (!/^\d{1,2}$/.test(fps) || Number(fps) > 30) return { problem: `fps=${fps.slice(0, 8)}: use a whole number from 1 to 30` };
    format.fps = Number(fps);
  }
  try {
    checkFormat(format);
  } catch (e) {
    return { problem: (e as Error).message };
  }
  return format;
}
