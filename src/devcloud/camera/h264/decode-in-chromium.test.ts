import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_CHROMIUM, launchChromium } from '../../../../test/helpers/browser.js';
import { sceneBackground } from '../jpeg.js';
import { motionBox } from '../motion.js';
import { annexB } from './bit-writer.js';
import { FrameEncoder } from './encoder.js';
import { profileLevelId } from './parameter-sets.js';
import { pictureFromRgb, type Picture } from './picture.js';

/**
 * The real check of the generator: Debian's chromium decodes the stream with WebCodecs (its
 * software H.264 decoder, FFmpeg's) and every decoded plane equals, bit for bit, the picture the
 * encoder says a decoder holds (Intra_16x16 macroblocks with the encoder's own reconstruction, I_PCM
 * under the text, P_Skip copies). DESIGN.md §8 records that chromium decodes I_PCM + skip streams; this test
 * keeps it true for ours, and proves the encoder's transform, CAVLC and reconstruction: one wrong
 * code or rounding and the decoded planes differ (or the decoder stops).
 */

interface Decoded {
  codedWidth: number;
  codedHeight: number;
  displayWidth: number;
  displayHeight: number;
  format: string;
  lumaSha256: string;
  /** Cb's then Cr's visible samples. */
  chromaSha256: string;
  error?: string;
}

/** The WebCodecs surface the page script uses (the project compiles without the DOM library). */
interface PageFrame {
  visibleRect: { width: number; height: number } | null;
  codedWidth: number;
  codedHeight: number;
  displayWidth: number;
  displayHeight: number;
  format: string | null;
  allocationSize(): number;
  copyTo(dest: Uint8Array): Promise<{ offset: number; stride: number }[]>;
  close(): void;
}
interface PageDecoder {
  configure(c: { codec: string; optimizeForLatency: boolean }): void;
  decode(chunk: unknown): void;
  flush(): Promise<void>;
}
interface PageGlobals {
  VideoDecoder: new (init: { output: (f: PageFrame) => void; error: (e: unknown) => void }) => PageDecoder;
  EncodedVideoChunk: new (init: { type: 'key' | 'delta'; timestamp: number; data: Uint8Array }) => unknown;
  crypto: { subtle: { digest(alg: string, data: Uint8Array): Promise<ArrayBuffer> } };
  atob(this: void, s: string): string;
}

async function decodeInPage(page: Page, codec: string, chunks: { key: boolean; data: string }[]): Promise<Decoded[]> {
  return page.evaluate(
    async ({ codec, chunks }) => {
      const { VideoDecoder, EncodedVideoChunk, crypto, atob } = globalThis as unknown as PageGlobals;
      const out: Decoded[] = [];
      const pending: Promise<void>[] = [];
      let failure = '';
      const decoder = new VideoDecoder({
        output: (frame) => {
          pending.push(
            (async () => {
              const w = frame.visibleRect?.width ?? frame.displayWidth;
              const h = frame.visibleRect?.height ?? frame.displayHeight;
              const buf = new Uint8Array(frame.allocationSize());
              const layout = await frame.copyTo(buf);
              // I420: the luma plane, then Cb and Cr at half size each way.
              const plane = (p: number): Uint8Array => {
                const pw = p === 0 ? w : Math.ceil(w / 2);
                const ph = p === 0 ? h : Math.ceil(h / 2);
                const out = new Uint8Array(pw * ph);
                const stride = layout[p]?.stride ?? pw;
                const offset = layout[p]?.offset ?? 0;
                for (let y = 0; y < ph; y++) out.set(buf.subarray(offset + y * stride, offset + y * stride + pw), y * pw);
                return out;
              };
              const hex = async (data: Uint8Array) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', data)), (b) => b.toString(16).padStart(2, '0')).join('');
              const cb = plane(1);
              const cr = plane(2);
              const chroma = new Uint8Array(cb.length + cr.length);
              chroma.set(cb);
              chroma.set(cr, cb.length);
              out.push({
                codedWidth: frame.codedWidth,
                codedHeight: frame.codedHeight,
                displayWidth: frame.displayWidth,
                displayHeight: frame.displayHeight,
                format: String(frame.format),
                lumaSha256: await hex(plane(0)),
                chromaSha256: await hex(chroma),
              });
              frame.close();
            })(),
          );
        },
        error: (e: unknown) => {
          failure = String(e);
        },
      });
      decoder.configure({ codec, optimizeForLatency: true });
      chunks.forEach((c, i) => {
        const data = Uint8Array.from(atob(c.data), (ch) => ch.charCodeAt(0));
        decoder.decode(new EncodedVideoChunk({ type: c.key ? 'key' : 'delta', timestamp: i * 66_667, data }));
      });
      await decoder.flush().catch((e: unknown) => {
        failure ||= String(e);
      });
      await Promise.all(pending);
      if (failure) out.push({ codedWidth: 0, codedHeight: 0, displayWidth: 0, displayHeight: 0, format: '', lumaSha256: '', chromaSha256: '', error: failure });
      return out;
    },
    { codec, chunks },
  );
}

function visibleLumaSha256(pic: Picture, width: number, height: number): string {
  const h = createHash('sha256');
  for (let y = 0; y < height; y++) h.update(pic.y.subarray(y * pic.lumaStride, y * pic.lumaStride + width));
  return h.digest('hex');
}

function visibleChromaSha256(pic: Picture, width: number, height: number): string {
  const h = createHash('sha256');
  for (const plane of [pic.u, pic.v]) {
    for (let y = 0; y < Math.ceil(height / 2); y++) h.update(plane.subarray(y * pic.chromaStride, y * pic.chromaStride + Math.ceil(width / 2)));
  }
  return h.digest('hex');
}

describe.skipIf(!HAS_CHROMIUM)('H.264 generator decoded by chromium (WebCodecs)', () => {
  let browser: Browser;
  let page: Page;
  let server: Server;
  beforeAll(async () => {
    // WebCodecs needs a secure context: a page from a loopback origin is one, about:blank is not.
    server = createServer((_req, res) => res.end('<!doctype html><title>decode</title>'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  });
  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  for (const format of [
    { width: 1280, height: 720, fps: 15 },
    // 180 is not a multiple of 16: exercises frame cropping in the SPS (frame_crop_bottom_offset).
    { width: 320, height: 180, fps: 15 },
  ]) {
    it(`${format.width}x${format.height}: every frame decodes to exactly the encoder's picture, and the picture changes`, async () => {
      const rgb = await sceneBackground(format.width, format.height);
      const enc = new FrameEncoder(format, pictureFromRgb(rgb, format.width, format.height));
      const t0 = Date.parse('2026-12-07T19:20:00Z');
      const chunks: { key: boolean; data: string }[] = [];
      const expected: string[] = [];
      const expectedChroma: string[] = [];
      // Frame 4's object overlaps the clock panel's right end: intra-coded macroblocks then have
      // I_PCM neighbours to their left and above, whose blocks count as 16 coefficients for nC (9.2.1).
      const scale = Math.max(1, Math.round(format.height / 240));
      const besidePanel = { left: Math.min(format.width, 206 * scale) - 40, top: 4, width: 120, height: 9 * scale + 40 };
      for (let i = 0; i < 8; i++) {
        // Motion from the third frame on; frame 6 asks for a keyframe mid-stream (Renew-Stream).
        const t = t0 + i * 67;
        const object = i === 4 ? besidePanel : i >= 2 ? motionBox(format.width, format.height, i * 300) : undefined;
        const au = enc.encode(t, object, i === 6);
        expect(au.keyframe).toBe(i === 0 || i === 6);
        chunks.push({ key: au.keyframe, data: annexB(au.nalUnits).toString('base64') });
        expected.push(visibleLumaSha256(enc.decodedPicture, format.width, format.height));
        expectedChroma.push(visibleChromaSha256(enc.decodedPicture, format.width, format.height));
      }
      const decoded = await decodeInPage(page, `avc1.${profileLevelId(format)}`, chunks);
      expect(decoded.find((d) => d.error)?.error).toBeUndefined();
      expect(decoded).toHaveLength(8);
      for (const d of decoded) expect([d.displayWidth, d.displayHeight]).toEqual([format.width, format.height]);
      expect(decoded.map((d) => d.format)).toEqual(Array(8).fill('I420'));
      expect(decoded.map((d) => d.lumaSha256)).toEqual(expected);
      expect(decoded.map((d) => d.chromaSha256)).toEqual(expectedChroma);
      expect(new Set(expected).size).toBe(8); // every frame differs (clock, counter, object)
    });
  }
});
