/**
 * Running target binaries on the x86-64 build host: qemu-user with a Debian sysroot per target
 * (packaging/emulation-setup.sh installs both from Debian's archive). Used to make the armv7 SEA
 * blob with the armv7 Node itself, and by `make test-package` to run the packaged agent.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Target } from './targets.js';

export function sysrootDir(target: Target, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env['SYSROOT_DIR'] ?? path.join('build', 'sysroot'), target.arch);
}

/** Throws with the fix when qemu or the sysroot is missing. A native target (x64) needs neither. */
export function checkEmulation(target: Target, env: NodeJS.ProcessEnv = process.env): string {
  if (!target.qemu) return '/';
  const root = sysrootDir(target, env);
  const problems: string[] = [];
  try {
    execFileSync('sh', ['-c', `command -v ${target.qemu}`], { stdio: 'ignore' });
  } catch {
    problems.push(`${target.qemu} is not installed`);
  }
  if (!fs.existsSync(path.join(root, 'lib', target.triplet, 'libc.so.6'))) problems.push(`no ${target.arch} sysroot at ${root}`);
  if (problems.length > 0) {
    throw new Error(`${problems.join('; ')}: run \`sudo packaging/emulation-setup.sh\` (installs qemu-user and the Debian sysroots)`);
  }
  return root;
}

/** argv that runs `binary args...` for the target under qemu-user (with `sysroot`, else the target's Debian 12 one). */
export function emulatedCommand(target: Target, binary: string, args: string[], env: NodeJS.ProcessEnv = process.env, sysroot?: string): { file: string; args: string[] } {
  if (!target.qemu) return { file: binary, args };
  return { file: target.qemu, args: ['-L', sysroot ?? checkEmulation(target, env), binary, ...args] };
}

/** The command prefix a launcher runs its runtime through on this host ('' when native). */
export function emulationRunner(target: Target, sysroot: string): string {
  return target.qemu ? `${target.qemu} -L ${sysroot}` : '';
}
