/**
 * The field tools' camera credentials: one 0600 JSON file shared by every field command
 * ($XDG_CONFIG_HOME/cloudcam/cameras.json, default ~/.config/cloudcam/cameras.json). It replaces the
 * seed's `.eap-install.cfg`, which was world-readable and kept one camera.
 */
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../lib/atomic-file.js';

/**
 * How the field tools trust the camera's HTTPS certificate (docs/field-tools.md):
 * - pinned: exactly this certificate (trust on first use, confirmed by a person or --fingerprint);
 * - ca: any certificate the given CA issued for the camera's host name (--ca FILE);
 * - insecure-http: plain HTTP, nothing verified (--insecure-http; never for keys or packages).
 */
export type CameraTrust =
  | { kind: 'pinned'; fingerprint256: string; certificatePem: string; subject: string; validTo: string; pinnedAt: string }
  | { kind: 'ca'; caFile: string; caPem: string }
  | { kind: 'insecure-http' };

export interface StoredCamera {
  /** As the user typed it: host, host:port or URL. */
  address: string;
  /** Normalised base URL, e.g. https://192.168.0.90 */
  url: string;
  /** Absent only in entries stored before HTTPS support; such a camera must be added again. */
  trust?: CameraTrust;
  username: string;
  password: string;
  /** From basicdeviceinfo when it was added. */
  serialNumber?: string;
  model?: string;
  architecture?: string;
  addedAt: string;
}

interface StoreFile {
  schema: 1;
  cameras: Record<string, StoredCamera>;
}

export function defaultStorePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CONFIG_HOME'] && path.isAbsolute(env['XDG_CONFIG_HOME']) ? env['XDG_CONFIG_HOME'] : path.join(os.homedir(), '.config');
  return path.join(base, 'cloudcam', 'cameras.json');
}

/**
 * https://host[:port] from what a technician types: an IP, a host name, host:port or a URL. No
 * scheme means HTTPS (what an Axis camera serves out of the box); plain HTTP only when asked for
 * with insecureHttp.
 */
export function cameraUrl(address: string, opts: { insecureHttp?: boolean } = {}): string {
  const trimmed = address.trim();
  if (trimmed === '') throw new Error('camera address is empty: give the camera IP or host name, e.g. 192.168.0.90');
  const hasScheme = /^[a-z]+:\/\//i.test(trimmed);
  const withScheme = hasScheme ? trimmed : `${opts.insecureHttp ? 'http' : 'https'}://${trimmed}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new Error(`"${address}" is not a camera address: give an IP or host name, optionally with :port, e.g. 192.168.0.90`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`camera address ${address}: only http:// and https:// are supported`);
  if (u.username || u.password) throw new Error('put no credentials in the camera address: `cloudcam camera add` asks for them');
  if (u.protocol === 'http:' && !opts.insecureHttp) {
    throw new Error(`${address} is plain HTTP, which anyone on the camera's network can read and alter: leave out the scheme (HTTPS is the default), or pass --insecure-http to use HTTP anyway`);
  }
  if (u.protocol === 'https:' && opts.insecureHttp) throw new Error(`${address} is https:// but --insecure-http was given: choose one`);
  return u.origin;
}

/** The URL `address` names when it is compared with a stored URL: without a scheme, the stored one's. */
function lookupUrl(address: string, storedUrl: string): string | undefined {
  try {
    return cameraUrl(address, { insecureHttp: storedUrl.startsWith('http:') });
  } catch {
    return undefined;
  }
}

export class CameraStore {
  constructor(readonly file: string = defaultStorePath()) {}

  private async load(): Promise<StoreFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { schema: 1, cameras: {} };
      throw err;
    }
    const st = await stat(this.file);
    if ((st.mode & 0o077) !== 0) {
      // Someone loosened it; passwords must not stay readable by others.
      await chmod(this.file, 0o600);
    }
    let doc: StoreFile;
    try {
      doc = JSON.parse(text) as StoreFile;
    } catch (err) {
      throw new Error(`${this.file} is not valid JSON (${(err as Error).message}): fix it or delete it and add the cameras again`, { cause: err });
    }
    if (doc.schema !== 1 || typeof doc.cameras !== 'object' || doc.cameras === null) {
      throw new Error(`${this.file} is not a cloudcam camera list (schema 1): delete it and add the cameras again`);
    }
    return doc;
  }

  private async save(doc: StoreFile): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file, JSON.stringify(doc, null, 2) + '\n', 0o600);
  }

  async list(): Promise<StoredCamera[]> {
    return Object.values((await this.load()).cameras);
  }

  /** By URL; with no address, the only stored camera. */
  async find(address: string | undefined): Promise<StoredCamera> {
    const cameras = await this.list();
    if (address === undefined) {
      if (cameras.length === 1) return cameras[0]!;
      if (cameras.length === 0) throw new Error('no camera stored: run `cloudcam camera add ADDRESS` first');
      throw new Error(`${cameras.length} cameras are stored: choose one with --camera (${cameras.map((c) => c.address).join(', ')})`);
    }
    const found = cameras.find((c) => c.address === address || c.url === lookupUrl(address, c.url));
    if (!found) throw new Error(`camera ${address} is not stored: run \`cloudcam camera add ${address}\` first`);
    return found;
  }

  /** The stored camera with this URL, if any (camera add: is it pinned already?). */
  async get(url: string): Promise<StoredCamera | undefined> {
    return (await this.load()).cameras[url];
  }

  async put(camera: StoredCamera): Promise<void> {
    const doc = await this.load();
    doc.cameras[camera.url] = camera;
    await this.save(doc);
  }

  /** Returns false when it was not stored. */
  async remove(address: string): Promise<boolean> {
    const doc = await this.load();
    const url = Object.values(doc.cameras).find((c) => c.address === address || c.url === lookupUrl(address, c.url))?.url;
    if (url === undefined) return false;
    delete doc.cameras[url];
    await this.save(doc);
    return true;
  }
}
