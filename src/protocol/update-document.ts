/**
 * The `cloudcam.update` job document (docs/update.md): which version for which architecture, where
 * to download the package, its size, SHA-256 and the release signature. One parser for the operator
 * (who builds the document before the job exists, with the presigned-URL placeholder) and the agent
 * (which gets it delivered, the placeholder replaced by a presigned GET).
 */
import semver from 'semver';

export const UPDATE_OPERATION = 'cloudcam.update';

/** Package architectures: the .eap's (manifest `architecture`) plus x86_64 for gateways and tests. */
export const UPDATE_ARCHITECTURES = ['armv7hf', 'aarch64', 'x86_64'] as const;
export type UpdateArchitecture = (typeof UPDATE_ARCHITECTURES)[number];

/** Hard ceiling whatever the agent's own bound: a package is ~40 MB; 1 GiB is certainly wrong. */
export const MAX_PACKAGE_BYTES = 1024 * 1024 * 1024;

/** Versions name a release folder (gateway-installer.ts RELEASE_NAME) and a kept package file. */
export const MAX_VERSION_CHARS = 64;

/** keyIds name a file in certs/release-keys/ ({keyId}.pem): no path characters. */
export const KEY_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/;

/** AWS IoT Jobs' placeholder, replaced at delivery by a presigned GET (presignedUrlConfig). */
export const PRESIGNED_PLACEHOLDER_PATTERN = /^\$\{aws:iot:s3-presigned-url(?:-v2)?:(https:\/\/[^}\s]+)\}$/;

export interface UpdatePackage {
  /** A presigned GET (delivered) or the `${aws:iot:s3-presigned-url:...}` placeholder (template). */
  url: string;
  size: number;
  /** Lower-case hex SHA-256 of the package bytes. */
  sha256: string;
  /** Base64 DER ECDSA P-256 signature of the release statement (release-signature.ts). */
  signature: string;
  keyId: string;
}

export interface UpdateDocument {
  operation: typeof UPDATE_OPERATION;
  version: string;
  architecture: UpdateArchitecture;
  package: UpdatePackage;
  allowDowngrade: boolean;
}

export class UpdateDocumentError extends Error {
  override readonly name = 'UpdateDocumentError';
}

/**
 * `template`: what an operator sends to CreateJob (the URL may be the placeholder).
 * `delivered`: what the device receives (the URL must be a real http(s) URL).
 */
export type DocumentStage = 'template' | 'delivered';

const KNOWN_KEYS = new Set(['operation', 'version', 'architecture', 'package', 'allowDowngrade']);
const KNOWN_PACKAGE_KEYS = new Set(['url', 'size', 'sha256', 'signature', 'keyId']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a `cloudcam.update` document; the error names the field and what it must be. */
export function parseUpdateDocument(doc: unknown, stage: DocumentStage): UpdateDocument {
  const fail = (what: string): never => {
    throw new UpdateDocumentError(`invalid cloudcam.update job document: ${what}`);
  };
  if (!isObject(doc)) return fail('it must be a JSON object');
  for (const key of Object.keys(doc)) if (!KNOWN_KEYS.has(key)) fail(`unknown field "${key.slice(0, 40)}" (known: ${[...KNOWN_KEYS].join(', ')})`);
  if (doc['operation'] !== UPDATE_OPERATION) fail(`operation must be "${UPDATE_OPERATION}"`);
  const version = doc['version'];
  if (typeof version !== 'string' || semver.valid(version) !== version) fail('version must be a semantic version such as "1.4.0" (no leading "v")');
  // It names the release folder (gateway-installer.ts) and the kept package: refused here, before a download.
  if ((version as string).length > MAX_VERSION_CHARS) fail(`version must be at most ${MAX_VERSION_CHARS} characters (it names the release's folder)`);
  const architecture = doc['architecture'];
  if (typeof architecture !== 'string' || !(UPDATE_ARCHITECTURES as readonly string[]).includes(architecture)) {
    fail(`architecture must be one of ${UPDATE_ARCHITECTURES.join(', ')}`);
  }
  const allowDowngrade = doc['allowDowngrade'] ?? false;
  if (typeof allowDowngrade !== 'boolean') fail('allowDowngrade must be true or false');
  const pkg = doc['package'];
  if (!isObject(pkg)) return fail('package must be an object {url, size, sha256, signature, keyId}');
  for (const key of Object.keys(pkg)) if (!KNOWN_PACKAGE_KEYS.has(key)) fail(`unknown field "package.${key.slice(0, 40)}"`);
  const url = pkg['url'];
  if (typeof url !== 'string' || url === '') return fail('package.url must be a string');
  urlProblem(url, stage, fail);
  const size = pkg['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1 || size > MAX_PACKAGE_BYTES) fail(`package.size must be a whole number of bytes from 1 to ${MAX_PACKAGE_BYTES}`);
  const sha256 = pkg['sha256'];
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) fail('package.sha256 must be 64 lower-case hex digits');
  const signature = pkg['signature'];
  // A DER ECDSA P-256 signature is 8-72 bytes: base64 of at most 96 characters.
  if (typeof signature !== 'string' || !/^[A-Za-z0-9+/]{8,96}={0,2}$/.test(signature)) fail('package.signature must be the base64 DER ECDSA signature');
  const keyId = pkg['keyId'];
  if (typeof keyId !== 'string' || !KEY_ID_PATTERN.test(keyId)) fail('package.keyId must be 1-64 of [a-zA-Z0-9._-] (the name of a release key)');
  return {
    operation: UPDATE_OPERATION,
    version: version as string,
    architecture: architecture as UpdateArchitecture,
    package: { url, size: size as number, sha256: sha256 as string, signature: signature as string, keyId: keyId as string },
    allowDowngrade: allowDowngrade as boolean,
  };
}

function urlProblem(url: string, stage: DocumentStage, fail: (what: string) => never): void {
  const placeholder = PRESIGNED_PLACEHOLDER_PATTERN.exec(url);
  if (placeholder) {
    if (stage === 'delivered') fail('package.url is still the ${aws:iot:s3-presigned-url:...} placeholder: the job was created without presignedUrlConfig');
    url = placeholder[1] ?? '';
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail('package.url is not a URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') fail('package.url must be an https (or, for devcloud, http) URL');
  if (parsed.username || parsed.password) fail('package.url must not carry credentials');
}

/** The architecture of the running agent in the documents' terms (undefined: one we do not package). */
export function agentArchitecture(arch: string = process.arch): UpdateArchitecture | undefined {
  return ({ arm64: 'aarch64', arm: 'armv7hf', x64: 'x86_64' } as Record<string, UpdateArchitecture>)[arch];
}

/** Why this agent must not install the version the document names, or undefined when it may. */
export function versionProblem(doc: Pick<UpdateDocument, 'version' | 'allowDowngrade'>, running: string): string | undefined {
  if (!semver.valid(running)) return undefined; // a dev build ("0.0.0-unknown" is valid); nothing to compare
  if (semver.eq(doc.version, running)) return `version ${doc.version} is already running`;
  if (semver.lt(doc.version, running) && !doc.allowDowngrade) {
    return `version ${doc.version} is older than the running ${running}: a downgrade needs "allowDowngrade": true in the job document`;
  }
  return undefined;
}
