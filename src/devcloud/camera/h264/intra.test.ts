import { describe, expect, it } from 'vitest';
import { sceneBackground } from '../jpeg.js';
import { KEYFRAME_QP } from './encoder.js';
import { IntraMacroblockCoder } from './intra.js';
import { Picture, pictureFromRgb } from './picture.js';
import { writeIdrSlice } from './slices.js';

/**
 * What a keyframe of the simulator's scene costs and how close it stays to the source: the bound
 * the issue set (60-150 KB at 720p, for a stream of about 1 Mbit/s with an IDR every 2 s; Axis
 * publishes no figure to hold it to, docs/protocol-rtsp.md). Exactness of the reconstruction is
 * decode-in-chromium.test.ts's job; this is the size/quality trade.
 */
function psnr(a: Buffer, b: Buffer): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    se += d * d;
  }
  return 10 * Math.log10((255 * 255 * a.length) / se);
}

describe('Intra_16x16 keyframes of the camera scene', () => {
  it(`1280x720 at QP ${KEYFRAME_QP}: 60-150 KB, luma PSNR above 35 dB, chroma above 38 dB`, async () => {
    const src = pictureFromRgb(await sceneBackground(1280, 720), 1280, 720);
    const rec = new Picture(src.mbWidth, src.mbHeight);
    const nal = writeIdrSlice(src, rec, new IntraMacroblockCoder(src.mbWidth, src.mbHeight, KEYFRAME_QP), { idr: true, frameNum: 0, idrPicId: 0 });
    expect(nal.length).toBeGreaterThan(60_000);
    expect(nal.length).toBeLessThan(150_000);
    // Most of what is lost is the scene's sensor-like noise (+-12 per RGB channel, jpeg.ts).
    expect(psnr(rec.y, src.y)).toBeGreaterThan(35);
    expect(psnr(rec.u, src.u)).toBeGreaterThan(38);
    expect(psnr(rec.v, src.v)).toBeGreaterThan(38);
  });

  it('a higher QP gives a smaller, coarser picture; QP outside 0..51 is refused', async () => {
    const src = pictureFromRgb(await sceneBackground(320, 176), 320, 176);
    const sizes: number[] = [];
    const quality: number[] = [];
    for (const qp of [20, 32]) {
      const rec = new Picture(src.mbWidth, src.mbHeight);
      sizes.push(writeIdrSlice(src, rec, new IntraMacroblockCoder(src.mbWidth, src.mbHeight, qp), { idr: true, frameNum: 0, idrPicId: 0 }).length);
      quality.push(psnr(rec.y, src.y));
    }
    expect(sizes[1]).toBeLessThan((sizes[0] ?? 0) / 2);
    expect(quality[1]).toBeLessThan((quality[0] ?? 0) - 3);
    expect(() => new IntraMacroblockCoder(20, 11, 52)).toThrow(/QP 52: must be a whole number 0..51/);
  });
});
