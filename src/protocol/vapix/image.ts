/**
 * VAPIX Image API, JPEG snapshots: GET /axis-cgi/jpg/image.cgi[?resolution=WxH&compression=N]
 * (developer.axis.com/vapix/network-video/video-streaming/ ; docs/protocol-vapix.md [VAPIX-image]).
 * The camera answers 200 with one image/jpeg, or 400 for a resolution it does not offer.
 */
import type { VapixClient } from './client.js';
import { VapixError, excerpt } from './errors.js';

export interface CaptureOptions {
  /** WIDTHxHEIGHT, one of the camera's Properties.Image.Resolution list. */
  resolution?: string;
  /** 0..100, higher = smaller file. */
  compression?: number;
  maxBytes: number;
  signal?: AbortSignal;
}

/** A whole JPEG: starts with SOI and ends with EOI (a cut-off image does not). */
export function isJpeg(buf: Buffer): boolean {
  return buf.length >= 4 && buf[0] === 0xff && buf[1] === 0xd8 && buf[buf.length - 2] === 0xff && buf[buf.length - 1] === 0xd9;
}

/** The request path, after checking the arguments (a RangeError names the bad one). */
export function snapshotPath(o: Omit<CaptureOptions, 'maxBytes' | 'signal'>): string {
  if (o.resolution !== undefined && !/^\d+x\d+$/.test(o.resolution)) {
    throw new RangeError(`captureJpeg resolution must be WIDTHxHEIGHT such as 1920x1080, got "${o.resolution}"`);
  }
  if (o.compression !== undefined && (!Number.isInteger(o.compression) || o.compression < 0 || o.compression > 100)) {
    throw new RangeError(`captureJpeg compression must be an integer 0..100 (higher = smaller file), got ${o.compression}`);
  }
  const q = new URLSearchParams();
  if (o.resolution !== undefined) q.set('resolution', o.resolution);
  if (o.compression !== undefined) q.set('compression', String(o.compression));
  const qs = q.toString();
  return `/axis-cgi/jpg/image.cgi${qs ? `?${qs}` : ''}`;
}

/** One JPEG, never more than maxBytes read. */
export async function captureJpeg(camera: VapixClient, o: CaptureOptions): Promise<{ jpeg: Buffer; ms: number }> {
  if (!Number.isInteger(o.maxBytes) || o.maxBytes <= 0) {
    throw new RangeError(`captureJpeg maxBytes must be a positive integer, got ${o.maxBytes}`);
  }
  const path = snapshotPath(o);
  const started = performance.now();
  const { body: jpeg, headers } = await camera.call200('GET', path, {
    maxBytes: o.maxBytes,
    tooLargeHint: 'request a lower resolution or a higher compression, or raise maxBytes',
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (!isJpeg(jpeg)) {
    throw new VapixError(
      'not-jpeg',
      `camera answered ${path} with ${jpeg.length} bytes of ${headers['content-type'] ?? 'none'} that are not a JPEG (${excerpt(jpeg, 80)}): ` +
        'check that camera.url points to an Axis camera and that its JPEG encoder is available',
    );
  }
  return { jpeg, ms: Math.round(performance.now() - started) };
}
