/**
 * `make package ARCH=armv7hf|aarch64|all`: per architecture, the agent as a Node single-executable
 * application, in a reproducible .eap (Axis ACAP package) and a gateway tarball with a systemd unit.
 * Reaches only the npm registry (for the Node binaries); see docs/packaging.md.
 *
 * Settings (environment, as make passes them):
 *   ARCH                      armv7hf, aarch64, all (default)
 *   NODE_VERSION_armv7hf      Node version from the registry (default: the newest it has)
 *   NODE_VERSION_aarch64
 *   NODE_TARBALL_armv7hf      an official nodejs.org tarball instead of the registry
 *   NODE_TARBALL_aarch64
 *   MANIFEST_SCHEMA           2.0.0 (default; AXIS OS 11.11+, required by 13), 2.1.0 or 1.7.3
 *   ACAP_VENDOR_ID            the 10-hex-digit vendor id Axis issues (schema 2.x)
 *   PACKAGE_DIR               output directory (default build/package)
 *   PACKAGE_VERSION           the version to build (default: package.json's; make test-package builds a newer one)
 *   SOURCE_DATE_EPOCH         fixed mtime of every archive entry (default: last commit time)
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleAgent, makeSeaExecutable } from './sea.js';
import { newestRegistryVersion, registryNode, tarballNode, type NodeRuntime } from './node-runtime.js';
import { buildManifest, MANIFEST_SCHEMAS, type ManifestSchema } from './manifest.js';
import { reproducibleTarGz, sha256, sourceDateEpoch, treeSize } from './archive.js';
import { isPastEndOfLife, nodeEndOfLife, parseArchList, TARGETS, type Arch, type Target } from './targets.js';
import { checkEmulation } from './emulation.js';
import { defaultsFileContent, gatewayFiles, licenseText } from './package-files.js';

export const APP_NAME = 'cloudcam';
const PLACEHOLDER_VENDOR_ID = '0000000000';

export interface BuildInfo {
  arch: Arch;
  version: string;
  node: string;
  nodeSource: string;
  nodePastEndOfLife: boolean;
  eap: string;
  eapBytes: number;
  eapSha256: string;
  unpackedBytes: number;
  executableBytes: number;
  bundleBytes: number;
  gatewayTarball: string;
  gatewayBytes: number;
  manifestSchema: ManifestSchema;
}

/** package.json's version; PACKAGE_VERSION overrides it (make test-package builds a newer one to update to). */
function readPackageVersion(env: NodeJS.ProcessEnv): string {
  return env['PACKAGE_VERSION'] || (JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string }).version;
}

function resolveRuntime(target: Target, env: NodeJS.ProcessEnv, cacheDir: string): NodeRuntime {
  const tarball = env[`NODE_TARBALL_${target.arch}`];
  if (tarball) return tarballNode(target, path.resolve(tarball), cacheDir);
  const version = env[`NODE_VERSION_${target.arch}`] || newestRegistryVersion(target);
  return registryNode(target, version.replace(/^v/, ''), cacheDir);
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export async function buildPackages(env: NodeJS.ProcessEnv = process.env): Promise<BuildInfo[]> {
  const arches = parseArchList(env['ARCH'] || 'all');
  const schema = (env['MANIFEST_SCHEMA'] || '2.0.0') as ManifestSchema;
  if (!MANIFEST_SCHEMAS.includes(schema)) throw new Error(`MANIFEST_SCHEMA=${schema}: use ${MANIFEST_SCHEMAS.join(' or ')}`);
  const vendorId = env['ACAP_VENDOR_ID'] || PLACEHOLDER_VENDOR_ID;
  if (!/^[0-9a-f]{10}$/.test(vendorId)) throw new Error(`ACAP_VENDOR_ID=${vendorId}: must be the 10 lowercase hex digits Axis issued`);
  const outDir = path.resolve(env['PACKAGE_DIR'] || path.join('build', 'package'));
  const work = path.resolve('build', 'package-work');
  const cacheDir = path.resolve('build', 'node-cache');
  const version = readPackageVersion(env);
  const mtime = sourceDateEpoch(env);
  fs.mkdirSync(outDir, { recursive: true });
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });

  // One bundle for every target: plain JavaScript, for the oldest Node we ship (armv7: 20.11).
  const bundle = path.join(work, 'agent.cjs');
  const bundleSizes = await bundleAgent(path.resolve('src/agent/bin.ts'), bundle, version, 'node20.11');
  const bundleBytes = fs.statSync(bundle).size;
  const top = Object.entries(bundleSizes).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${k} ${(v / 1024).toFixed(0)} KB`);
  console.log(`bundle: ${(bundleBytes / 1024).toFixed(0)} KB (${top.join(', ')}, ...)`);
  if (vendorId === PLACEHOLDER_VENDOR_ID && schema.startsWith('2.')) {
    console.log(`note: ACAP_VENDOR_ID not set; manifest vendorId is the placeholder ${PLACEHOLDER_VENDOR_ID} (set yours to sign the package in the ACAP portal)`);
  }

  const infos: BuildInfo[] = [];
  for (const arch of arches) {
    const target = TARGETS[arch];
    checkEmulation(target, env);
    const runtime = resolveRuntime(target, env, cacheDir);
    const pastEol = isPastEndOfLife(runtime.version);
    console.log(`${arch}: node ${runtime.version} (${runtime.source})`);
    if (pastEol) {
      const bar = '!'.repeat(78);
      console.warn(
        `${bar}\n!! WARNING: ${arch} ships node ${runtime.version}, past its end of life (${nodeEndOfLife(runtime.version)}): no more security fixes.\n` +
          `!! The npm registry has nothing newer for ${target.nodePackage}. Pass an official tarball: NODE_TARBALL_${arch}=path/to/node-vX.Y.Z-linux-${target.nodeTarballSuffix}.tar.xz\n${bar}`,
      );
    }

    // The .eap: Axis package layout, executable named after the app.
    const stage = path.join(work, arch, 'eap');
    fs.mkdirSync(stage, { recursive: true });
    const exe = path.join(stage, APP_NAME);
    makeSeaExecutable(target, runtime, bundle, exe, path.join(work, arch, 'sea'));
    fs.writeFileSync(
      path.join(stage, 'manifest.json'),
      JSON.stringify(
        buildManifest({ schema, appName: APP_NAME, friendlyName: 'cloudcam', vendor: 'cloudcam', vendorUrl: 'https://github.com/cloudcam/cloudcam', vendorId, version, arch, minOsVersion: '11.11' }),
        null,
        2,
      ) + '\n',
    );
    fs.writeFileSync(path.join(stage, 'LICENSE'), licenseText(Object.keys(bundleSizes), runtime));
    fs.writeFileSync(path.join(stage, 'cloudcam.defaults.json'), defaultsFileContent());
    // The broker trust roots (certs/, scripts/extract-amazon-roots.mjs): the default iot.caPath.
    fs.cpSync(path.resolve('certs'), path.join(stage, 'certs'), { recursive: true });
    const eap = path.join(outDir, `${APP_NAME}_${version}_${arch}.eap`);
    reproducibleTarGz(stage, eap, mtime);

    // The gateway tarball: the same executable, a systemd unit and an install script.
    const gwStage = path.join(work, arch, 'gateway');
    fs.mkdirSync(gwStage, { recursive: true });
    fs.copyFileSync(exe, path.join(gwStage, APP_NAME));
    fs.chmodSync(path.join(gwStage, APP_NAME), 0o755);
    for (const f of ['LICENSE', 'cloudcam.defaults.json']) fs.copyFileSync(path.join(stage, f), path.join(gwStage, f));
    fs.cpSync(path.join(stage, 'certs'), path.join(gwStage, 'certs'), { recursive: true });
    for (const [name, content, mode] of gatewayFiles(APP_NAME)) {
      fs.writeFileSync(path.join(gwStage, name), content);
      fs.chmodSync(path.join(gwStage, name), mode);
    }
    const gateway = path.join(outDir, `${APP_NAME}_${version}_linux-${target.nodeTarballSuffix}.tar.gz`);
    reproducibleTarGz(gwStage, gateway, mtime, `${APP_NAME}-${version}`);

    const info: BuildInfo = {
      arch,
      version,
      node: runtime.version,
      nodeSource: runtime.source,
      nodePastEndOfLife: pastEol,
      eap,
      eapBytes: fs.statSync(eap).size,
      eapSha256: sha256(eap),
      unpackedBytes: treeSize(stage),
      executableBytes: fs.statSync(exe).size,
      bundleBytes,
      gatewayTarball: gateway,
      gatewayBytes: fs.statSync(gateway).size,
      manifestSchema: schema,
    };
    fs.writeFileSync(path.join(outDir, `build-info-${arch}.json`), JSON.stringify(info, null, 2) + '\n');
    console.log(`${arch}: ${path.relative(process.cwd(), eap)} ${mb(info.eapBytes)} (unpacked ${mb(info.unpackedBytes)}; node ${runtime.version}) sha256 ${info.eapSha256.slice(0, 16)}`);
    console.log(`${arch}: ${path.relative(process.cwd(), gateway)} ${mb(info.gatewayBytes)}`);
    infos.push(info);
  }
  return infos;
}
