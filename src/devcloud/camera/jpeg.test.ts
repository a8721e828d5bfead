import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { renderFrame } from './jpeg.js';
import { motionBand, motionBox } from './motion.js';
import { regionDifference } from '../../../test/helpers/image-diff.js';


const base = { cameraName: 'yard <&> cam', time: new Date('2026-11-02T10:00:00Z') };

describe('renderFrame', () => {
  it('renders a JPEG of the requested size', async () => {
    const jpeg = await renderFrame({ ...base, width: 1280, height: 720, quality: 70, seq: 1 });
    const meta = await sharp(jpeg).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 1280, 720]);
    expect(jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(jpeg.subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
  });

  it('draws the frame counter, so frames differ even at the same second', async () => {
    const [a, b] = await Promise.all([
      renderFrame({ ...base, width: 320, height: 180, quality: 90, seq: 1 }),
      renderFrame({ ...base, width: 320, height: 180, quality: 90, seq: 2 }),
    ]);
    const [pa, pb] = await Promise.all([sharp(a).raw().toBuffer(), sharp(b).raw().toBuffer()]);
    expect(pa.equals(pb)).toBe(false);
    // Same inputs, same picture: the scene is deterministic per resolution.
    const again = await renderFrame({ ...base, width: 320, height: 180, quality: 90, seq: 1 });
    expect(again.equals(a)).toBe(true);
  });

  it('gets smaller as quality drops', async () => {
    const sizes = await Promise.all(
      [95, 60, 20].map(async (quality) => (await renderFrame({ ...base, width: 640, height: 480, quality, seq: 3 })).length),
    );
    expect(sizes[0]).toBeGreaterThan(sizes[1]!);
    expect(sizes[1]).toBeGreaterThan(sizes[2]!);
  });

  it('draws the moving object while motion is active: that region differs, the sky does not', async () => {
    const spec = { ...base, width: 320, height: 180, quality: 90, seq: 1 };
    const [idle, moving] = await Promise.all([renderFrame(spec), renderFrame({ ...spec, object: motionBox(320, 180, 0) })]);
    expect(await regionDifference(idle, moving, motionBand(320, 180))).toBeGreaterThan(10);
    expect(await regionDifference(idle, moving, { left: 0, top: 30, width: 320, height: 60 })).toBeLessThan(2);
  });

  it('refuses absurd sizes', async () => {
    await expect(renderFrame({ ...base, width: 0, height: 10, quality: 50, seq: 1 })).rejects.toThrow(/out of range/);
    await expect(renderFrame({ ...base, width: 10_000, height: 10, quality: 50, seq: 1 })).rejects.toThrow(/out of range/);
  });
});
