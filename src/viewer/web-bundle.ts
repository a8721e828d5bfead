import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/**
 * The web app as one minified ES module, bundled by esbuild from src/viewer/web/main.ts (devcloud
 * serves it; `make viewer-web` writes the same bundle for S3). esbuild is a dev dependency: devcloud
 * and the deploy step run from the repository, never on a camera.
 */

export const WEB_ENTRY = fileURLToPath(new URL('../../src/viewer/web/main.ts', import.meta.url));
export const WEB_CSS = fileURLToPath(new URL('../../src/viewer/web/app.css', import.meta.url));

export interface WebBundle {
  js: string;
  gzipBytes: number;
}

let bundled: Promise<WebBundle> | undefined;

/** Bundled once per process: every devcloud a test suite starts serves the same app. */
export function bundleWebApp(): Promise<WebBundle> {
  bundled ??= bundle();
  bundled.catch(() => (bundled = undefined));
  return bundled;
}

async function bundle(): Promise<WebBundle> {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [WEB_ENTRY],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2020'],
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const js = out.outputFiles[0]!.text;
  return { js, gzipBytes: gzipSync(js, { level: 9 }).length };
}

/** The page shell: everything else is the script. */
export function indexHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>cloudcam viewer</title><link rel="stylesheet" href="/app.css"></head>
<body><div id="app"><p>Loading…</p></div><script type="module" src="/app.js"></script></body></html>
`;
}

/** The static app for S3 (infra/viewer.ts): index.html, app.js, app.css; config.json is added at deploy. */
export async function writeWebApp(dir: string): Promise<WebBundle> {
  const web = await bundleWebApp();
  await mkdir(dir, { recursive: true });
  await Promise.all([writeFile(path.join(dir, 'index.html'), indexHtml()), writeFile(path.join(dir, 'app.js'), web.js), copyFile(WEB_CSS, path.join(dir, 'app.css'))]);
  return web;
}
