/**
 * Frames for the camera simulator: a static "scene" per resolution (cached, it is the slow part)
 * with an Axis-style text overlay (camera name, time) and a frame counter drawn as a bar code, so
 * every snapshot differs even where no font is installed.
 */
import sharp from 'sharp';
import type { MotionBox } from './motion.js';

export interface FrameSpec {
  width: number;
  height: number;
  /** libjpeg quality 1..100 */
  quality: number;
  cameraName: string;
  seq: number;
  time: Date;
  /** While motion is active: the moving object (motion.ts), drawn as a filled box. */
  object?: MotionBox;
}

const SEQ_BITS = 24;
const backgrounds = new Map<string, Promise<Buffer>>();

/** Deterministic PRNG so a resolution always gets the same scene. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sceneSvg(w: number, h: number): string {
  const rnd = mulberry32(w * 7919 + h);
  const horizon = Math.round(h * 0.62);
  let buildings = '';
  let x = 0;
  while (x < w) {
    const bw = Math.round(w * (0.05 + rnd() * 0.09));
    const bh = Math.round(h * (0.12 + rnd() * 0.3));
    const shade = 60 + Math.round(rnd() * 70);
    buildings += `<rect x="${x}" y="${horizon - bh}" width="${bw}" height="${bh}" fill="rgb(${shade},${shade + 8},${shade + 18})"/>`;
    // lit windows
    const cols = Math.max(1, Math.floor(bw / Math.max(6, w / 120)));
    const rows = Math.max(1, Math.floor(bh / Math.max(8, h / 50)));
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        if (rnd() < 0.35) {
          const ww = Math.max(1, Math.round(bw / cols / 2.5));
          const wh = Math.max(1, Math.round(bh / rows / 2.5));
          buildings += `<rect x="${x + Math.round((c + 0.3) * (bw / cols))}" y="${horizon - bh + Math.round((r + 0.3) * (bh / rows))}" width="${ww}" height="${wh}" fill="rgb(230,210,140)"/>`;
        }
      }
    }
    x += bw + Math.round(rnd() * w * 0.01);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="rgb(70,110,170)"/><stop offset="1" stop-color="rgb(190,200,210)"/>
    </linearGradient>
    <linearGradient id="road" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="rgb(95,95,95)"/><stop offset="1" stop-color="rgb(45,45,48)"/>
    </linearGradient>
  </defs>
  <rect width="${w}" height="${horizon}" fill="url(#sky)"/>
  <rect y="${horizon}" width="${w}" height="${h - horizon}" fill="url(#road)"/>
  ${buildings}
  <polygon points="${w * 0.46},${h} ${w * 0.495},${horizon} ${w * 0.505},${horizon} ${w * 0.54},${h}" fill="rgb(200,200,190)" opacity="0.5"/>
</svg>`;
}

/** Raw RGB scene with sensor-like noise, cached per resolution (the live H.264 stream shows it too). */
export function sceneBackground(w: number, h: number): Promise<Buffer> {
  const key = `${w}x${h}`;
  let p = backgrounds.get(key);
  if (!p) {
    p = (async () => {
      const raw = await sharp(Buffer.from(sceneSvg(w, h))).removeAlpha().raw().toBuffer();
      const rnd = mulberry32(w ^ (h << 12));
      for (let i = 0; i < raw.length; i++) {
        const v = (raw[i] ?? 0) + Math.round((rnd() - 0.5) * 24);
        raw[i] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
      return raw;
    })();
    p.catch(() => backgrounds.delete(key));
    backgrounds.set(key, p);
  }
  return p;
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function overlaySvg(spec: FrameSpec): { svg: string; height: number } {
  const { width: w, height: h } = spec;
  const fs = Math.max(8, Math.round(h / 28));
  const barH = Math.round(fs * 1.6);
  const stamp = spec.time.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const text = `${xmlEscape(spec.cameraName)}  ${stamp}  #${spec.seq}`;
  return {
    height: barH,
    svg: `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${barH}">
  <rect width="${w}" height="${barH}" fill="black" opacity="0.55"/>
  <text x="${Math.round(fs * 0.5)}" y="${Math.round(barH * 0.72)}" font-family="DejaVu Sans, sans-serif" font-size="${fs}" fill="white">${text}</text>
</svg>`,
  };
}

/** Frame counter as black/white cells along the bottom edge. */
function counterSvg(w: number, h: number, seq: number): { svg: string; height: number } {
  const cell = Math.max(2, Math.floor(Math.min(w / (SEQ_BITS + 2), h / 60)));
  let cells = '';
  for (let b = 0; b < SEQ_BITS; b++) {
    const on = (seq >>> (SEQ_BITS - 1 - b)) & 1;
    cells += `<rect x="${(b + 1) * cell}" y="0" width="${cell}" height="${cell}" fill="${on ? 'white' : 'black'}"/>`;
  }
  return {
    height: cell,
    svg: `<svg xmlns="http://www.w3.org/2000/svg" width="${(SEQ_BITS + 2) * cell}" height="${cell}"><rect width="100%" height="100%" fill="rgb(255,0,0)"/>${cells}</svg>`,
  };
}

/** The moving object: a bright filled box with a dark outline, unmistakable against the scene. */
function objectSvg(box: MotionBox): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${box.width}" height="${box.height}"><rect width="100%" height="100%" fill="rgb(255,140,0)" stroke="black" stroke-width="${Math.max(1, Math.round(box.width / 30))}"/></svg>`;
}

export async function renderFrame(spec: FrameSpec): Promise<Buffer> {
  const { width: w, height: h } = spec;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 16 || h < 16 || w > 8192 || h > 8192) {
    throw new RangeError(`frame size ${w}x${h} is out of range 16..8192`);
  }
  const quality = Math.min(100, Math.max(1, Math.round(spec.quality)));
  const bg = await sceneBackground(w, h);
  const top = overlaySvg(spec);
  const counter = counterSvg(w, h, spec.seq);
  return sharp(bg, { raw: { width: w, height: h, channels: 3 } })
    .composite([
      ...(spec.object ? [{ input: Buffer.from(objectSvg(spec.object)), top: spec.object.top, left: spec.object.left }] : []),
      { input: Buffer.from(top.svg), top: 0, left: 0 },
      { input: Buffer.from(counter.svg), top: h - counter.height, left: 0 },
    ])
    .jpeg({ quality })
    .toBuffer();
}
