/**
 * Debian's security-maintained `nodejs` for armhf (trixie, trixie-security), taken as a packager
 * would: `apt-get download` through an APT_CONFIG of our own under build/debian-node/ (its own lists,
 * cache and status file; APT::Architectures armhf), whose sources are this machine's Debian mirrors
 * re-aimed at trixie (debian-sources.ts). The host's dpkg never learns the foreign architecture, so
 * there is nothing to remove afterwards, and no root is needed. Downloads are cached: a second build
 * reuses the .deb files without the network.
 *
 * What goes into a package (assembleDebianRuntime): `node`, libnode and every library it needs
 * except glibc in `lib/` (checked: each DT_NEEDED of each shipped file is shipped or is glibc's),
 * and libnode's externalised builtins in `builtins/`, with their paths in libnode rewritten
 * (libnode-paths.ts). glibc is the camera's: its version is what sets the AXIS OS floor.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { hostCodename, hostSources, retargetSources } from './debian-sources.js';
import { DEBIAN_BUILTINS_DIR, embeddedPaths, rewriteEmbeddedPaths, type PathRewrite } from './libnode-paths.js';

export const DEBIAN_SUITE = 'trixie';
const DEB_ARCH = 'armhf';
const TRIPLET = 'arm-linux-gnueabihf';
/** Libraries libnode needs besides glibc (trixie names); the NEEDED check below catches a change. */
const LIBRARY_PACKAGES = ['libbrotli1', 'libcares2', 'libgcc-s1', 'libicu76', 'libnghttp2-14', 'libssl3t64', 'libstdc++6', 'libuv1t64', 'libzstd1', 'zlib1g'];
/** The packages that hold libnode's externalised builtins (/usr/share/nodejs/{name}/...). */
const BUILTIN_PACKAGES = ['node-acorn', 'node-cjs-module-lexer', 'node-minimatch', 'node-undici'];
/** glibc's own libraries: the camera provides them. */
const GLIBC_SONAMES = new Set(['libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'librt.so.1', 'libresolv.so.2', 'ld-linux-armhf.so.3']);
/** Where the builtins go in the package, relative to the package directory (the launcher's cwd). */
export const BUILTINS_DIR = 'builtins/';

export interface DebianRuntime {
  /** e.g. v20.19.2 (what process.version says). */
  version: string;
  /** Debian's package version, e.g. 20.19.2+dfsg-1+deb13u3. */
  debianVersion: string;
  source: string;
  /** The unpacked packages (dpkg -x of every .deb). */
  root: string;
  /** libc6 of the same release, unpacked: the emulation sysroot (what AXIS OS 12 provides). */
  sysroot: string;
  /** Package → version of everything shipped, for the LICENSE and the build log. */
  packages: Record<string, string>;
}

function aptConfig(dir: string, sourcesText: string): string {
  for (const d of ['etc/apt/sources.list.d', 'etc/apt/apt.conf.d', 'etc/apt/preferences.d', 'lists/partial', 'cache/archives/partial']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.writeFileSync(path.join(dir, 'etc/apt/sources.list.d', `${DEBIAN_SUITE}.sources`), sourcesText);
  fs.writeFileSync(path.join(dir, 'status'), '');
  const conf = path.join(dir, 'apt.conf');
  fs.writeFileSync(
    conf,
    [
      `Dir::Etc "${dir}/etc/apt/";`,
      `Dir::State "${dir}/";`,
      `Dir::State::Lists "${dir}/lists/";`,
      `Dir::State::status "${dir}/status";`,
      `Dir::Cache "${dir}/cache/";`,
      `APT::Architecture "${DEB_ARCH}";`,
      `APT::Architectures { "${DEB_ARCH}"; };`,
      // Downloads land in our own folder, which apt's _apt user may not be able to enter.
      'APT::Sandbox::User "root";',
      '',
    ].join('\n'),
  );
  return conf;
}

/** The emulation sysroot fetchDebianNode unpacks: trixie's libc6 only, as AXIS OS 12 provides glibc. */
export function debianSysrootDir(cacheDir = path.resolve('build', 'debian-node')): string {
  return path.join(cacheDir, `${DEBIAN_SUITE}-${DEB_ARCH}`, 'sysroot');
}

/** Downloads (or reuses) the armhf .deb files of trixie's nodejs and what it needs; unpacks them. */
export function fetchDebianNode(cacheDir: string, env: NodeJS.ProcessEnv = process.env): DebianRuntime {
  const dir = path.join(cacheDir, `${DEBIAN_SUITE}-${DEB_ARCH}`);
  const debs = path.join(dir, 'debs');
  const done = path.join(dir, 'downloaded.json');
  if (!fs.existsSync(done)) {
    const sourcesText = env['DEBIAN_SOURCES'] ? fs.readFileSync(env['DEBIAN_SOURCES'], 'utf8') : retargetSources(hostSources(), hostCodename(), DEBIAN_SUITE);
    const conf = aptConfig(path.join(dir, 'apt'), sourcesText);
    const aptEnv = { ...env, APT_CONFIG: conf, LC_ALL: 'C' };
    execFileSync('apt-get', ['update', '-qq'], { env: aptEnv, stdio: ['ignore', 'ignore', 'inherit'] });
    // libnode's package name carries its soname (libnode115): read it from nodejs's dependencies.
    const depends = execFileSync('apt-cache', ['depends', '--no-recommends', '--no-suggests', 'nodejs'], { env: aptEnv, encoding: 'utf8' });
    const libnode = /Depends: (libnode\d+)/.exec(depends)?.[1];
    if (!libnode) throw new Error(`${DEBIAN_SUITE}'s nodejs depends on no libnodeN package:\n${depends}`);
    fs.rmSync(debs, { recursive: true, force: true });
    fs.mkdirSync(debs, { recursive: true });
    execFileSync('apt-get', ['download', '-qq', 'nodejs', libnode, ...LIBRARY_PACKAGES, ...BUILTIN_PACKAGES, 'libc6'], { cwd: debs, env: aptEnv, stdio: ['ignore', 'ignore', 'inherit'] });
    fs.writeFileSync(done, JSON.stringify({ files: fs.readdirSync(debs).sort() }, null, 2) + '\n');
  }
  const files = (JSON.parse(fs.readFileSync(done, 'utf8')) as { files: string[] }).files;
  const root = path.join(dir, 'root');
  const sysroot = debianSysrootDir(cacheDir);
  const packages: Record<string, string> = {};
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(sysroot, { recursive: true, force: true });
  for (const f of files) {
    const deb = path.join(debs, f);
    const [name = '', version = ''] = execFileSync('dpkg-deb', ['-f', deb, 'Package', 'Version'], { encoding: 'utf8' }).trim().split('\n').map((l) => l.replace(/^\w+: /, ''));
    if (name === 'libc6') {
      execFileSync('dpkg-deb', ['-x', deb, sysroot]);
      // qemu-arm looks for /lib/ld-linux-armhf.so.3; trixie's libc6 is merged-/usr.
      if (!fs.existsSync(path.join(sysroot, 'lib'))) fs.symlinkSync('usr/lib', path.join(sysroot, 'lib'));
      continue;
    }
    execFileSync('dpkg-deb', ['-x', deb, root]);
    packages[name] = version;
  }
  const debianVersion = packages['nodejs'] ?? '';
  const upstream = /^(\d+\.\d+\.\d+)/.exec(debianVersion)?.[1];
  if (!upstream) throw new Error(`cannot read the Node version from Debian's nodejs ${debianVersion}`);
  return { version: `v${upstream}`, debianVersion, source: `Debian ${DEBIAN_SUITE} nodejs ${debianVersion} (armhf; security support: ${DEBIAN_SUITE}-security)`, root, sysroot, packages };
}

export interface AssembledRuntime {
  rewrites: PathRewrite[];
  libraries: string[];
  builtins: string[];
  /** Highest GLIBC_ symbol version the shipped files need from the camera, and GLIBCXX_ libnode needs. */
  needsGlibc: string;
  needsGlibcxx: string;
}

function readelf(args: string[], file: string): string {
  return execFileSync(`${TRIPLET}-readelf`, [...args, file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

function highest(texts: string[], prefix: string): string {
  const versions = texts.flatMap((t) => [...t.matchAll(new RegExp(`${prefix}_(\\d+(?:\\.\\d+)*)`, 'g'))].map((m) => m[1] ?? ''));
  return versions.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1) ?? '';
}

/** Copies node, lib/ and builtins/ into stage (the package directory) and rewrites libnode's builtin paths. */
export function assembleDebianRuntime(rt: DebianRuntime, stage: string): AssembledRuntime {
  const libSrc = path.join(rt.root, 'usr', 'lib', TRIPLET);
  const libDir = path.join(stage, 'lib');
  fs.mkdirSync(libDir, { recursive: true });
  fs.copyFileSync(path.join(rt.root, 'usr', 'bin', 'node'), path.join(stage, 'node'));
  fs.chmodSync(path.join(stage, 'node'), 0o755);

  // Each library once, under the name the loader asks for (its soname), not the symlink chain.
  const wanted = [readelf(['-d'], path.join(stage, 'node'))];
  const shipped = new Set<string>();
  const needed = (dyn: string): string[] => [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1] ?? '');
  const queue = needed(wanted[0] ?? '');
  const missing: string[] = [];
  while (queue.length > 0) {
    const so = queue.shift() ?? '';
    if (GLIBC_SONAMES.has(so) || shipped.has(so)) continue;
    const src = path.join(libSrc, so);
    if (!fs.existsSync(src)) {
      missing.push(so);
      continue;
    }
    fs.copyFileSync(fs.realpathSync(src), path.join(libDir, so));
    shipped.add(so);
    const dyn = readelf(['-d'], path.join(libDir, so));
    wanted.push(dyn);
    queue.push(...needed(dyn));
  }
  if (missing.length > 0) throw new Error(`the Debian runtime needs ${missing.join(', ')}, which no downloaded package holds: add its package to LIBRARY_PACKAGES in src/packaging/debian-runtime.ts`);

  const libnodeName = [...shipped].find((s) => /^libnode\.so\.\d+$/.test(s));
  if (!libnodeName) throw new Error('Debian node does not link a libnode.so.N');
  const libnodePath = path.join(libDir, libnodeName);
  const original = fs.readFileSync(libnodePath);
  const rewrites: Record<string, string> = {};
  for (const p of embeddedPaths(original, DEBIAN_BUILTINS_DIR)) rewrites[p] = BUILTINS_DIR + p.slice(DEBIAN_BUILTINS_DIR.length);
  const { lib, rewrites: done } = rewriteEmbeddedPaths(original, rewrites);
  fs.writeFileSync(libnodePath, lib);
  const builtins: string[] = [];
  for (const [from, to] of Object.entries(rewrites)) {
    const src = path.join(rt.root, from);
    if (!fs.existsSync(src)) throw new Error(`libnode loads ${from}, which none of ${BUILTIN_PACKAGES.join(', ')} holds: add its package to BUILTIN_PACKAGES`);
    fs.mkdirSync(path.join(stage, path.dirname(to)), { recursive: true });
    fs.copyFileSync(src, path.join(stage, to));
    builtins.push(to);
  }

  // GLIBC: what every shipped file needs from the camera. GLIBCXX: what libnode needs from a
  // libstdc++ (the package ships one that has it, so the camera's does not matter).
  const symbols = [path.join(stage, 'node'), ...[...shipped].map((s) => path.join(libDir, s))].map((f) => readelf(['-V'], f));
  return { rewrites: done, libraries: [...shipped].sort(), builtins, needsGlibc: highest(symbols, 'GLIBC'), needsGlibcxx: highest([readelf(['-V'], libnodePath)], 'GLIBCXX') };
}

/** Debian's copyright files of every shipped package, for the package's LICENSE. */
export function debianCopyrights(rt: DebianRuntime): string {
  return Object.entries(rt.packages)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, version]) => {
      const file = path.join(rt.root, 'usr', 'share', 'doc', name, 'copyright');
      const body = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : `see Debian's ${name} package\n`;
      return `\n${'='.repeat(78)}\nDebian ${name} ${version} (the runtime)\n${'='.repeat(78)}\n\n${body}`;
    })
    .join('');
}
