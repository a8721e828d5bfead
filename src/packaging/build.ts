/**
 * `make package ARCH=armv7hf|aarch64|x64|all`: per package flavour (flavours.ts) the agent with its
 * runtime and launcher, in a reproducible .eap (Axis ACAP package), and for the official-Node
 * flavours a gateway tarball with a systemd unit. Reaches only the npm registry (official Node
 * binaries) and this machine's Debian mirrors (Debian's nodejs); see docs/packaging.md.
 *
 * Settings (environment, as make passes them):
 *   ARCH                      armv7hf, aarch64, all (default)
 *   NODE_VERSION_armv7hf      official Node version from the registry (default: the newest of the newest LTS line)
 *   NODE_VERSION_aarch64      (armv7hf: the AXIS OS 11 package; AXIS OS 12's runs Debian's nodejs)
 *   NODE_TARBALL_armv7hf      an official nodejs.org tarball instead of the registry
 *   NODE_TARBALL_aarch64
 *   DEBIAN_SOURCES            a deb822 sources file for trixie instead of this machine's mirrors
 *   MANIFEST_SCHEMA           2.0.0 (default; AXIS OS 11.11+, required by 13), 2.1.0 or 1.7.3
 *   ACAP_VENDOR_ID            the 10-hex-digit vendor id Axis issues (schema 2.x)
 *   PACKAGE_DIR               output directory (default build/package)
 *   PACKAGE_VERSION           the version to build (default: package.json's; make test-package builds a newer one)
 *   SOURCE_DATE_EPOCH         fixed mtime of every archive entry (default: last commit time)
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleAgent, makeSeaExecutable } from './sea.js';
import { newestRegistryLtsVersion, registryNode, tarballNode, type NodeRuntime } from './node-runtime.js';
import { buildManifest, MANIFEST_SCHEMAS, type ManifestSchema } from './manifest.js';
import { reproducibleTarGz, sha256, sourceDateEpoch, treeSize } from './archive.js';
import { isPastEndOfLife, nodeEndOfLife, parseArchList, TARGETS, type AcapArch, type Arch, type Target } from './targets.js';
import { checkEmulation } from './emulation.js';
import { defaultsFileContent, gatewayFiles, licenseText } from './package-files.js';
import { flavoursFor, friendlyNameFor, RUNTIME_NOTES_FILE, type Flavour, type RuntimeNotes } from './flavours.js';
import { appLauncherScript, DEBIAN_BUNDLE, SEA_EXECUTABLE } from './app-launcher.js';
import { assembleDebianRuntime, debianCopyrights, fetchDebianNode, type DebianRuntime } from './debian-runtime.js';
import { LAZY_CHUNKS } from './lazy-chunks.js';

export const APP_NAME = 'cloudcam';
const PLACEHOLDER_VENDOR_ID = '0000000000';
/** A camera refuses an upload over 100 MiB (DESIGN.md section 8); stay well below. */
const MAX_EAP_BYTES = 90 * 1024 * 1024;
/**
 * Debian 13's security support (debian.org/security/faq: about a year after the next release; Debian
 * LTS continues to 2030-06-30). Trixie was released 2025-08-09, so regular support runs to about 2028-08.
 */
const DEBIAN_SECURITY_END = '2028-08-09';

export interface BuildInfo {
  flavour: string;
  arch: Arch;
  version: string;
  node: string;
  nodeSource: string;
  nodePastEndOfLife: boolean;
  runtime: RuntimeNotes;
  /** The staged package directory (what the .eap holds, unpacked). */
  stage: string;
  /** undefined for x64 (no ACAP package). */
  eap?: string;
  eapBytes: number;
  eapSha256: string;
  unpackedBytes: number;
  /** The runtime's own files: the single executable, or node + lib/ + builtins/ (the bundle and its lazy chunks not counted). */
  runtimeBytes: number;
  bundleBytes: number;
  gatewayTarball?: string;
  gatewayBytes: number;
  manifestSchema: ManifestSchema;
}

/** package.json's version; PACKAGE_VERSION overrides it (make test-package builds a newer one to update to). */
function readPackageVersion(env: NodeJS.ProcessEnv): string {
  return env['PACKAGE_VERSION'] || (JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string }).version;
}

function resolveOfficialRuntime(target: Target, env: NodeJS.ProcessEnv, cacheDir: string): NodeRuntime {
  const tarball = env[`NODE_TARBALL_${target.arch}`];
  if (tarball) return tarballNode(target, path.resolve(tarball), cacheDir);
  const version = env[`NODE_VERSION_${target.arch}`] || newestRegistryLtsVersion(target);
  return registryNode(target, version.replace(/^v/, ''), cacheDir);
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** The official runtime's notes; a loud warning in the build log when it is past its end of life. */
function officialNotes(flavour: Flavour, runtime: NodeRuntime, target: Target): RuntimeNotes {
  const eol = nodeEndOfLife(runtime.version) ?? 'unknown';
  const past = isPastEndOfLife(runtime.version);
  const wayOut = `rebuild with NODE_TARBALL_${target.arch}=node-v22.x.y-linux-${target.nodeTarballSuffix}.tar.xz (an official Node 22 build from nodejs.org)`;
  console.log(`${flavour.id}: node ${runtime.version} (${runtime.source}); the v${runtime.version.replace(/^v/, '').split('.')[0]} line's end of life: ${eol}`);
  if (past) {
    const bar = '!'.repeat(78);
    console.warn(
      `${bar}\n!! END OF LIFE: ${flavour.id} ships node ${runtime.version}, past its end of life (${eol}): no more security fixes.\n` +
        `!! The npm registry has nothing newer for ${target.nodePackage}. Way out: ${wayOut}\n${bar}`,
    );
  }
  return {
    flavour: flavour.id,
    origin: 'official',
    node: runtime.version,
    source: runtime.source,
    endOfLife: eol,
    pastEndOfLife: past,
    ...(past ? { wayOut } : {}),
    ...(flavour.axisOs ? { axisOs: axisOsText(flavour) } : {}),
  };
}

function axisOsText(flavour: Flavour): string {
  return flavour.axisOs ? `AXIS OS ${flavour.axisOs.min} to ${flavour.axisOs.max}.x` : '';
}

/** Stages the official single executable: cloudcam-agent. Returns the runtime's size. */
function stageOfficial(target: Target, runtime: NodeRuntime, bundle: string, stage: string, work: string): number {
  const exe = path.join(stage, SEA_EXECUTABLE);
  makeSeaExecutable(target, runtime, bundle, exe, work);
  return fs.statSync(exe).size;
}

/** Stages Debian's node, lib/, builtins/ and the bundle as agent.js. Returns the runtime's size. */
function stageDebian(flavour: Flavour, rt: DebianRuntime, bundle: string, stage: string): { bytes: number; notes: RuntimeNotes } {
  const assembled = assembleDebianRuntime(rt, stage);
  fs.copyFileSync(bundle, path.join(stage, DEBIAN_BUNDLE));
  const bytes = treeSize(path.join(stage, 'lib')) + treeSize(path.join(stage, 'builtins')) + fs.statSync(path.join(stage, 'node')).size;
  console.log(`${flavour.id}: node ${rt.version} (${rt.source}); needs GLIBC_${assembled.needsGlibc} from the camera (libnode needs GLIBCXX_${assembled.needsGlibcxx}: the package's own libstdc++ has it)`);
  console.log(`${flavour.id}: lib/ ${assembled.libraries.join(' ')}`);
  for (const r of assembled.rewrites) console.log(`${flavour.id}: libnode: ${r.from} -> ${r.to} (${r.count}x, NUL-padded)`);
  const past = today() > DEBIAN_SECURITY_END;
  return {
    bytes,
    notes: {
      flavour: flavour.id,
      origin: 'debian',
      node: rt.version,
      source: rt.source,
      endOfLife: DEBIAN_SECURITY_END,
      pastEndOfLife: past,
      ...(flavour.axisOs ? { axisOs: `${axisOsText(flavour)} (glibc ${assembled.needsGlibc} or later)` } : {}),
    },
  };
}

export async function buildPackages(env: NodeJS.ProcessEnv = process.env): Promise<BuildInfo[]> {
  const arches = parseArchList(env['ARCH'] || 'all');
  const schema = (env['MANIFEST_SCHEMA'] || '2.0.0') as ManifestSchema;
  if (!MANIFEST_SCHEMAS.includes(schema)) throw new Error(`MANIFEST_SCHEMA=${schema}: use ${MANIFEST_SCHEMAS.join(' or ')}`);
  const vendorId = env['ACAP_VENDOR_ID'] || PLACEHOLDER_VENDOR_ID;
  if (!/^[0-9a-f]{10}$/.test(vendorId)) throw new Error(`ACAP_VENDOR_ID=${vendorId}: must be the 10 lowercase hex digits Axis issued`);
  const outDir = path.resolve(env['PACKAGE_DIR'] || path.join('build', 'package'));
  const work = path.resolve(outDir === path.resolve('build', 'package') ? path.join('build', 'package-work') : `${outDir}-work`);
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
  const chunks = LAZY_CHUNKS.map((c) => `${c.file} ${(fs.statSync(path.join(work, c.file)).size / 1024).toFixed(0)} KB`);
  console.log(`bundle: ${(bundleBytes / 1024).toFixed(0)} KB (${top.join(', ')}, ...); beside it ${chunks.join(', ')}`);
  if (vendorId === PLACEHOLDER_VENDOR_ID && schema.startsWith('2.')) {
    console.log(`note: ACAP_VENDOR_ID not set; manifest vendorId is the placeholder ${PLACEHOLDER_VENDOR_ID} (set yours to sign the package in the ACAP portal)`);
  }

  const infos: BuildInfo[] = [];
  for (const flavour of flavoursFor(arches)) {
    const target = TARGETS[flavour.arch];
    const stage = path.join(work, flavour.id, 'eap');
    fs.mkdirSync(stage, { recursive: true });
    let notes: RuntimeNotes;
    let runtimeBytes: number;
    let license: string;
    if (flavour.runtime === 'debian') {
      const rt = fetchDebianNode(path.resolve('build', 'debian-node'), env);
      const staged = stageDebian(flavour, rt, bundle, stage);
      notes = staged.notes;
      runtimeBytes = staged.bytes;
      license = licenseText(Object.keys(bundleSizes), { title: `Node.js ${rt.version} as packaged by Debian (node, lib/, builtins/)`, text: debianCopyrights(rt) });
    } else {
      checkEmulation(target, env);
      const runtime = resolveOfficialRuntime(target, env, cacheDir);
      notes = officialNotes(flavour, runtime, target);
      runtimeBytes = stageOfficial(target, runtime, bundle, stage, path.join(work, flavour.id, 'sea'));
      license = licenseText(Object.keys(bundleSizes), { title: `Node.js ${runtime.version} (the runtime inside ${SEA_EXECUTABLE})`, text: fs.readFileSync(runtime.license, 'utf8') });
    }
    // The packed lazy chunks (live view's code), next to the executable or agent.js: the loader looks there.
    for (const { file } of LAZY_CHUNKS) fs.copyFileSync(path.join(work, file), path.join(stage, file));
    const launcher = path.join(stage, APP_NAME);
    fs.writeFileSync(launcher, appLauncherScript(APP_NAME, flavour.runtime, '', flavour.runtimeDefaults));
    fs.chmodSync(launcher, 0o755);
    fs.writeFileSync(path.join(stage, RUNTIME_NOTES_FILE), JSON.stringify(notes, null, 2) + '\n');
    fs.writeFileSync(path.join(stage, 'LICENSE'), license);
    fs.writeFileSync(path.join(stage, 'cloudcam.defaults.json'), defaultsFileContent());
    // The broker trust roots (certs/, scripts/extract-amazon-roots.mjs): the default iot.caPath.
    fs.cpSync(path.resolve('certs'), path.join(stage, 'certs'), { recursive: true });

    let eap: string | undefined;
    let eapBytes = 0;
    let eapSha256 = '';
    if (flavour.axisOs) {
      const friendlyName = friendlyNameFor(flavour, notes.pastEndOfLife);
      const manifest = buildManifest({
        schema,
        appName: APP_NAME,
        friendlyName,
        vendor: 'cloudcam',
        vendorUrl: 'https://github.com/cloudcam/cloudcam',
        vendorId,
        version,
        arch: flavour.arch as AcapArch,
        minOsVersion: flavour.axisOs.min,
        maxOsVersion: flavour.axisOs.max,
      });
      fs.writeFileSync(path.join(stage, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
      eap = path.join(outDir, `${APP_NAME}_${version}_${flavour.id}${notes.pastEndOfLife ? '-eol' : ''}.eap`);
      reproducibleTarGz(stage, eap, mtime);
      eapBytes = fs.statSync(eap).size;
      eapSha256 = sha256(eap);
      if (eapBytes > MAX_EAP_BYTES) throw new Error(`${path.basename(eap)} is ${mb(eapBytes)}: over ${mb(MAX_EAP_BYTES)}, too close to the 100 MiB a camera accepts for an upload`);
    }

    // The gateway tarball: the same executable, a systemd unit and the update launcher.
    let gateway: string | undefined;
    if (flavour.gateway) {
      const gwStage = path.join(work, flavour.id, 'gateway');
      fs.mkdirSync(gwStage, { recursive: true });
      fs.copyFileSync(path.join(stage, SEA_EXECUTABLE), path.join(gwStage, APP_NAME));
      fs.chmodSync(path.join(gwStage, APP_NAME), 0o755);
      for (const f of ['LICENSE', 'cloudcam.defaults.json', RUNTIME_NOTES_FILE, ...LAZY_CHUNKS.map((c) => c.file)]) fs.copyFileSync(path.join(stage, f), path.join(gwStage, f));
      fs.cpSync(path.join(stage, 'certs'), path.join(gwStage, 'certs'), { recursive: true });
      for (const [name, content, mode] of gatewayFiles(APP_NAME, flavour.runtimeDefaults)) {
        fs.writeFileSync(path.join(gwStage, name), content);
        fs.chmodSync(path.join(gwStage, name), mode);
      }
      gateway = path.join(outDir, `${APP_NAME}_${version}_linux-${target.nodeTarballSuffix}.tar.gz`);
      reproducibleTarGz(gwStage, gateway, mtime, `${APP_NAME}-${version}`);
    }

    const info: BuildInfo = {
      flavour: flavour.id,
      arch: flavour.arch,
      version,
      node: notes.node,
      nodeSource: notes.source,
      nodePastEndOfLife: notes.pastEndOfLife,
      runtime: notes,
      stage,
      ...(eap ? { eap } : {}),
      eapBytes,
      eapSha256,
      unpackedBytes: treeSize(stage),
      runtimeBytes,
      bundleBytes,
      ...(gateway ? { gatewayTarball: gateway } : {}),
      gatewayBytes: gateway ? fs.statSync(gateway).size : 0,
      manifestSchema: schema,
    };
    fs.writeFileSync(path.join(outDir, `build-info-${flavour.id}.json`), JSON.stringify(info, null, 2) + '\n');
    const eol = notes.pastEndOfLife ? ` END OF LIFE since ${notes.endOfLife}` : `; supported to ${notes.endOfLife}`;
    if (eap) console.log(`${flavour.id}: ${path.relative(process.cwd(), eap)} ${mb(eapBytes)} (installed ${mb(info.unpackedBytes)}; ${flavour.purpose}; node ${notes.node}${eol}) sha256 ${eapSha256.slice(0, 16)}`);
    else console.log(`${flavour.id}: ${path.relative(process.cwd(), stage)} (${mb(info.unpackedBytes)}; ${flavour.purpose}; node ${notes.node})`);
    if (gateway) console.log(`${flavour.id}: ${path.relative(process.cwd(), gateway)} ${mb(info.gatewayBytes)}`);
    infos.push(info);
  }
  return infos;
}
