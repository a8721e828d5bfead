import { cp, mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The thumbnail Lambda runs on arm64 and needs sharp's native build for linux-arm64 beside its
 * bundle: `node_modules/sharp` with its JS dependencies, `@img/sharp-linux-arm64` and
 * `@img/sharp-libvips-linux-arm64`. They are taken from `build/sharp-arm64/node_modules`, which
 * `make lambda-sharp` fills with `npm install --os=linux --cpu=arm64 --libc=glibc sharp` (the only
 * step that needs the registry). Without it the asset is marked incomplete and synth says so.
 */
export const sharpArm64Dir = (repoRoot: string): string => path.join(repoRoot, 'build', 'sharp-arm64', 'node_modules');
const PACKAGES = ['sharp', '@img/colour', 'detect-libc', 'semver', '@img/sharp-linux-arm64', '@img/sharp-libvips-linux-arm64'];

export async function copySharpArm64(lambdaDir: string, repoRoot: string): Promise<boolean> {
  const from = sharpArm64Dir(repoRoot);
  const missing = PACKAGES.filter((p) => !existsSync(path.join(from, p)));
  if (missing.length > 0) {
    await writeFile(path.join(lambdaDir, 'SHARP-MISSING.txt'), `sharp for linux-arm64 was not bundled (missing: ${missing.join(', ')}); run make lambda-sharp, then synth again\n`);
    process.stderr.write(`warning: thumbnail Lambda bundled without sharp for linux-arm64 (missing ${missing.join(', ')}): run make lambda-sharp before deploying\n`);
    return false;
  }
  for (const p of PACKAGES) {
    await mkdir(path.dirname(path.join(lambdaDir, 'node_modules', p)), { recursive: true });
    await cp(path.join(from, p), path.join(lambdaDir, 'node_modules', p), { recursive: true });
  }
  return true;
}
