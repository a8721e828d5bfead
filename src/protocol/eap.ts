/**
 * ACAP application packages (.eap): a gzip'd tar whose manifest.json names the app, its version and
 * the architecture it was built for. install reads the manifest before uploading (to pick the right
 * file and to skip a reinstall); the camera simulator reads it on upload, as AXIS OS does.
 * A tar reader/writer of the ustar subset ACAP tools produce; no dependency for ~100 lines.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

export type EapArchitecture = 'armv7hf' | 'aarch64';

export interface EapManifest {
  appName: string;
  version: string;
  /** 'all' for a script-only package that runs anywhere. */
  architecture: EapArchitecture | 'all';
  friendlyName: string;
  vendor: string;
  /** configuration.reverseProxy entries: the app's HTTP endpoints under /local/{appName}/{apiPath}. */
  reverseProxy: { apiPath: string; target: string; access: string }[];
  /** setup.compatibleOsVersions (schema 2.x): the AXIS OS ranges the package installs on; empty = not declared. */
  compatibleOsVersions: { min?: string; max?: string }[];
  /** configuration.paramConfig: the app's parameters, which AXIS OS creates under root.{appName} at installation. */
  paramConfig: { name: string; default: string; type: string }[];
}

export class EapError extends Error {
  override readonly name = 'EapError';
}

const BLOCK = 512;
/** Largest unpacked package we read: ACAP packages are a few MB; this stops a gzip bomb. */
const MAX_UNPACKED = 512 * 1024 * 1024;

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? length : nul).toString('utf8');
}

/** Files of a tar archive (regular files only), by name without a leading `./`. */
export function readTar(tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let pos = 0;
  while (pos + BLOCK <= tar.length) {
    const header = tar.subarray(pos, pos + BLOCK);
    if (header.every((b) => b === 0)) break;
    const sizeText = field(header, 124, 12).trim();
    if (!/^[0-7]*$/.test(sizeText)) throw new EapError(`corrupt tar header at byte ${pos} (size "${sizeText}")`);
    const size = sizeText === '' ? 0 : parseInt(sizeText, 8);
    const prefix = field(header, 345, 155);
    const name = (prefix ? `${prefix}/` : '') + field(header, 0, 100);
    const type = String.fromCharCode(header[156] ?? 0);
    const start = pos + BLOCK;
    if (start + size > tar.length) throw new EapError(`tar entry ${name} is cut short (${size} bytes promised)`);
    if (type === '0' || type === '\0') files.set(name.replace(/^\.\//, ''), tar.subarray(start, start + size));
    pos = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return files;
}

/** A ustar archive of the given files (tests, and a tiny package of our own). */
export function writeTar(files: Record<string, Buffer | string>): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, content] of Object.entries(files)) {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    if (Buffer.byteLength(name) > 100) throw new EapError(`tar name too long: ${name}`);
    const h = Buffer.alloc(BLOCK);
    h.write(name, 0, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write(Math.floor(Date.now() / 1000).toString(8).padStart(11, '0') + '\0', 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    const sum = h.reduce((a, b) => a + b, 0);
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(h, data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  blocks.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(blocks);
}

/** Reads and checks manifest.json of an .eap; `what` names the file in messages. */
export function readEapManifest(eap: Buffer, what = 'the package'): EapManifest {
  let tar: Buffer;
  try {
    tar = gunzipSync(eap, { maxOutputLength: MAX_UNPACKED });
  } catch (err) {
    throw new EapError(`${what} is not an ACAP package (.eap is a gzip'd tar): ${(err as Error).message}`);
  }
  const files = readTar(tar);
  const raw = files.get('manifest.json');
  if (!raw) {
    throw new EapError(
      `${what} has no manifest.json: it is not an ACAP package for manifest-based firmware (AXIS OS 10.7+); rebuild it with the ACAP SDK`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new EapError(`${what}: manifest.json is not valid JSON (${(err as Error).message})`);
  }
  return parseEapManifest(doc, what);
}

/** Checks a parsed manifest.json (the package's, or one an installed app carries). */
export function parseEapManifest(doc: unknown, what = 'the package'): EapManifest {
  const conf = (doc as { acapPackageConf?: { setup?: Record<string, unknown>; configuration?: { reverseProxy?: unknown; paramConfig?: unknown } } } | null)?.acapPackageConf;
  const setup = conf?.setup;
  const str = (k: string): string => {
    const v = setup?.[k];
    if (typeof v !== 'string' || v === '') throw new EapError(`${what}: manifest.json lacks acapPackageConf.setup.${k}`);
    return v;
  };
  const appName = str('appName');
  if (!/^[A-Za-z0-9_]{1,64}$/.test(appName)) throw new EapError(`${what}: appName "${appName}" must be letters, digits and _`);
  const architecture = typeof setup?.['architecture'] === 'string' ? setup['architecture'] : 'all';
  if (architecture !== 'armv7hf' && architecture !== 'aarch64' && architecture !== 'all') {
    throw new EapError(`${what}: architecture "${architecture}" is not armv7hf, aarch64 or all`);
  }
  const ranges = Array.isArray(setup?.['compatibleOsVersions']) ? (setup['compatibleOsVersions'] as unknown[]) : [];
  const proxies = Array.isArray(conf?.configuration?.reverseProxy) ? (conf.configuration.reverseProxy as Record<string, unknown>[]) : [];
  const params = Array.isArray(conf?.configuration?.paramConfig) ? (conf.configuration.paramConfig as unknown[]) : [];
  return {
    appName,
    version: str('version'),
    architecture,
    friendlyName: typeof setup?.['friendlyName'] === 'string' ? setup['friendlyName'] : appName,
    vendor: typeof setup?.['vendor'] === 'string' ? setup['vendor'] : '',
    reverseProxy: proxies
      .filter((p) => typeof p['apiPath'] === 'string' && typeof p['target'] === 'string')
      .map((p) => ({ apiPath: String(p['apiPath']), target: String(p['target']), access: typeof p['access'] === 'string' ? p['access'] : 'admin' })),
    compatibleOsVersions: ranges
      .filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null)
      .map((r) => ({ ...(typeof r['min'] === 'string' ? { min: r['min'] } : {}), ...(typeof r['max'] === 'string' ? { max: r['max'] } : {}) })),
    paramConfig: params
      .filter((p): p is Record<string, unknown> => typeof p === 'object' && p !== null && typeof (p as Record<string, unknown>)['name'] === 'string')
      .map((p) => ({ name: String(p['name']), default: typeof p['default'] === 'string' || typeof p['default'] === 'number' ? String(p['default']) : '', type: typeof p['type'] === 'string' ? p['type'] : 'string' })),
  };
}

/** A minimal valid .eap: manifest.json (schema 1.7), the executable and a LICENSE. */
export function buildEap(o: { appName: string; version: string; architecture: EapArchitecture | 'all'; executable?: Buffer | string; apiPath?: string; apiTarget?: string }): Buffer {
  const manifest = {
    schemaVersion: '1.7',
    acapPackageConf: {
      setup: {
        appName: o.appName,
        friendlyName: o.appName,
        vendor: 'cloudcam',
        runMode: 'respawn',
        version: o.version,
        ...(o.architecture === 'all' ? {} : { architecture: o.architecture }),
      },
      ...(o.apiPath
        ? { configuration: { reverseProxy: [{ apiPath: o.apiPath, target: o.apiTarget ?? 'http://localhost:2001', access: 'admin' }] } }
        : {}),
    },
  };
  return gzipSync(
    writeTar({
      'manifest.json': JSON.stringify(manifest, null, 2),
      [o.appName]: o.executable ?? '#!/bin/sh\nexec sleep infinity\n',
      LICENSE: 'Apache-2.0\n',
    }),
  );
}
