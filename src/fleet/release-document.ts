/**
 * The operator's half of a release (docs/update.md): what a package is (version and architecture,
 * from an .eap's manifest or a gateway tarball's name), and the signed `cloudcam.update` job
 * document that points at it in the release bucket.
 */
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { readEapManifest } from '../protocol/eap.js';
import { signRelease } from '../protocol/release-signature.js';
import { parseUpdateDocument, UPDATE_ARCHITECTURES, UPDATE_OPERATION, type UpdateArchitecture, type UpdateDocument } from '../protocol/update-document.js';

export interface PackageFacts {
  version: string;
  architecture: UpdateArchitecture;
  kind: 'eap' | 'gateway';
}

/** Gateway tarball names: cloudcam_{version}_linux-{arm64|armv7l|x64}.tar.gz (docs/packaging.md). */
const GATEWAY_NAME = /^cloudcam_([^_]+)_linux-(arm64|armv7l|x64)\.tar\.gz$/;
const GATEWAY_ARCH: Record<string, UpdateArchitecture> = { arm64: 'aarch64', armv7l: 'armv7hf', x64: 'x86_64' };

/** Reads version and architecture off the package; `given` (command-line flags) wins and is checked against it. */
export function packageFacts(file: string, bytes: Buffer, given: { version?: string; architecture?: string } = {}): PackageFacts {
  const name = path.basename(file);
  let found: Partial<PackageFacts>;
  if (name.endsWith('.eap')) {
    const m = readEapManifest(bytes, name);
    found = { version: m.version, kind: 'eap', ...(m.architecture !== 'all' ? { architecture: m.architecture } : {}) };
  } else {
    const m = GATEWAY_NAME.exec(name);
    found = m ? { version: m[1], architecture: GATEWAY_ARCH[m[2] ?? ''], kind: 'gateway' } : { kind: 'gateway' };
  }
  for (const key of ['version', 'architecture'] as const) {
    const flag = given[key];
    if (flag !== undefined && found[key] !== undefined && flag !== found[key]) throw new Error(`--${key} ${flag} contradicts the package, which says ${found[key]}`);
  }
  const version = given.version ?? found.version;
  const architecture = given.architecture ?? found.architecture;
  if (!version) throw new Error(`cannot tell the version of ${name}: pass --version (an .eap names it in manifest.json, a gateway tarball in cloudcam_{version}_linux-{arch}.tar.gz)`);
  if (!architecture || !(UPDATE_ARCHITECTURES as readonly string[]).includes(architecture)) {
    throw new Error(`cannot tell the architecture of ${name}${architecture ? ` ("${architecture}")` : ''}: pass --architecture ${UPDATE_ARCHITECTURES.join('|')}`);
  }
  return { version, architecture: architecture as UpdateArchitecture, kind: found.kind ?? 'gateway' };
}

/** The job document for a package uploaded to `url` (the presigned-URL placeholder), signed with the release key. */
export function releaseDocument(o: { bytes: Buffer; facts: PackageFacts; url: string; signingKeyPem: string; keyId: string; allowDowngrade?: boolean }): UpdateDocument {
  const sha256 = createHash('sha256').update(o.bytes).digest('hex');
  const allowDowngrade = o.allowDowngrade ?? false;
  // allowDowngrade is signed with the rest: a job creator without the release key cannot turn it on.
  const fields = { sha256, size: o.bytes.length, version: o.facts.version, architecture: o.facts.architecture, allowDowngrade };
  const doc = {
    operation: UPDATE_OPERATION,
    version: o.facts.version,
    architecture: o.facts.architecture,
    package: { url: o.url, size: o.bytes.length, sha256, signature: signRelease(o.signingKeyPem, fields), keyId: o.keyId },
    allowDowngrade,
  };
  // The same validator the agent runs, before the job exists.
  return parseUpdateDocument(doc, 'template');
}

/** A job id for this release, unique per call: AWS job ids are 1-64 of [a-zA-Z0-9_-]. */
export function releaseJobId(version: string, architecture: string, now = new Date(), unique = randomBytes(3).toString('hex')): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `update-${version}-${architecture}-${stamp}-${unique}`.replace(/[^a-zA-Z0-9_-]/g, '_').slice(-64);
}
