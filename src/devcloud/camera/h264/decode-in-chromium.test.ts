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
 * software H.264 decoder, FFmpeg's) and every decoded luma plane equals, bit for bit, the picture the
 * encoder says a decoder holds (I_PCM is lossless, P_Skip copies). DESIGN.md §8 records that chromium
 * decodes I_PCM + skip streams; this test keeps it true for ours.
 */

interface Decoded {
  codedWidth: number;
  codedHeight: number;
  displayWidth: number;
  displayHeight: number;
  format: string;
  lumaSha256: string;
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
              const luma = new Uint8Array(w * h);
              const stride = layout[0]?.stride ?? w;
              const offset = layout[0]?.offset ?? 0;
              for (let y = 0; y < h; y++) luma.set(buf.subarray(offset + y * stride, offset + y * stride + w), y * w);
              const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', luma));
              out.push({
                codedWidth: frame.codedWidth,
                codedHeight: frame.codedHeight,
                displayWidth: frame.displayWidth,
                displayHeight: frame.displayHeight,
                format: String(frame.format),
                lumaSha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''),
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
      if (failure) out.push({ codedWidth: 0, codedHeight: 0, displayWidth: 0, displayHeight: 0, format: '', lumaSha256: '', error: failure });
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
      for (let i = 0; i < 8; i++) {
        // Motion from the third frame on; frame 6 asks for a keyframe mid-stream (Renew-Stream).
        const t = t0 + i * 67;
        const object = i >= 2 ? motionBox(format.width, format.height, i * 300) : undefined;
        const au = enc.encode(t, object, i === 6);
        expect(au.keyframe).toBe(i === 0 || i === 6);
        chunks.push({ key: au.keyframe, data: annexB(au.nalUnits).toString('base64') });
        expected.push(visibleLumaSha256(enc.decodedPicture, format.width, format.height));
      }
      const decoded = await decodeInPage(page, `avc1.${profileLevelId(format)}`, chunks);
      expect(decoded.find((d) => d.error)?.error).toBeUndefined();
      expect(decoded).toHaveLength(8);
      for (const d of decoded) expect([d.displayWidth, d.displayHeight]).toEqual([format.width, format.height]);
      expect(decoded.map((d) => d.lumaSha256)).toEqual(expected);
      expect(new Set(expected).size).toBe(8); // every frame differs (clock, counter, object)
    });
  }
});
