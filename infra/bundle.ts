import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { copySharpArm64 } from './sharp-arm64.js';

/**
 * Bundles the Lambdas with esbuild into `outDir/{name}/index.js`, each a single CommonJS file
 * with its AWS SDK clients inside (pinned versions, no reliance on the runtime's SDK). CDK's own
 * NodejsFunction bundling would do this too but falls back to Docker when esbuild is not found;
 * bundling here and handing CDK a plain directory (Code.fromAsset) keeps synth offline and exact.
 */

/** The repository root: the nearest folder above this module with a package.json (also once bundled). */
function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'src', 'cloud'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find the cloudcam repository above ${from}`);
  }
}

export const REPO_ROOT = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));

export const LAMBDAS = {
  'cloud-handler': 'src/cloud/lambda.ts',
  'provisioning-hook': 'src/cloud/provisioning-hook.ts',
  'viewer-api': 'src/viewer/api/lambda.ts',
  thumbnail: 'src/viewer/thumbnail-lambda.ts',
} as const;

/** Native modules left out of a bundle and copied beside it (sharp's arm64 build: infra/sharp-arm64.ts). */
const EXTERNAL: Partial<Record<LambdaName, string[]>> = { thumbnail: ['sharp'] };

export type LambdaName = keyof typeof LAMBDAS;

/** Lambda's Node runtime the bundles target (infra/cloudcam-stack.ts picks the same). */
export const LAMBDA_NODE_TARGET = 'node24';

export async function bundleLambdas(outDir: string): Promise<Record<LambdaName, { dir: string; bytes: number }>> {
  const result = {} as Record<LambdaName, { dir: string; bytes: number }>;
  for (const [name, entry] of Object.entries(LAMBDAS) as [LambdaName, string][]) {
    const dir = path.join(outDir, name);
    const out = await build({
      entryPoints: [path.join(REPO_ROOT, entry)],
      outfile: path.join(dir, 'index.js'),
      bundle: true,
      external: EXTERNAL[name] ?? [],
      platform: 'node',
      format: 'cjs',
      target: LAMBDA_NODE_TARGET,
      minify: true,
      legalComments: 'none',
      metafile: true,
      logLevel: 'warning',
    });
    const bytes = Object.values(out.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
    if (EXTERNAL[name]?.includes('sharp')) await copySharpArm64(dir, REPO_ROOT);
    result[name] = { dir, bytes };
  }
  return result;
}
