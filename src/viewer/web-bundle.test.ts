import { describe, expect, it } from 'vitest';
import { bundleWebApp } from './web-bundle.js';

describe('the web app bundle', () => {
  it('is one ES module of at most 100 KB gzip\'d', async () => {
    const { js, gzipBytes } = await bundleWebApp();
    expect(js.length).toBeGreaterThan(1000);
    expect(gzipBytes).toBeLessThanOrEqual(100 * 1024);
    console.log(`viewer app: ${js.length} bytes minified, ${gzipBytes} bytes gzip`);
  });
});
