import sharp from 'sharp';

/** Mean absolute difference (0..255) of two JPEGs' pixels inside a rectangle, decoded with sharp. */
export async function regionDifference(a: Buffer, b: Buffer, box: { left: number; top: number; width: number; height: number }): Promise<number> {
  const [pa, pb] = await Promise.all([a, b].map((jpeg) => sharp(jpeg).extract(box).removeAlpha().raw().toBuffer()));
  if (!pa || !pb || pa.length !== pb.length) throw new Error('the two pictures differ in size');
  let sum = 0;
  for (let i = 0; i < pa.length; i++) sum += Math.abs((pa[i] ?? 0) - (pb[i] ?? 0));
  return sum / pa.length;
}
