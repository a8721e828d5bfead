import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { FieldIo } from '../../src/cli/field-io.js';
import { startCameraSimulator, type CameraSimulator, type CameraSimulatorOptions } from '../../src/devcloud/camera/simulator.js';
import { createSelfSignedServerCertificate } from '../../src/devcloud/pki.js';

/** A camera's own self-signed HTTPS certificate, as an Axis camera makes for itself. */
export function cameraCertificate(commonName = 'B8A44F000001'): Promise<{ certPem: string; keyPem: string }> {
  return createSelfSignedServerCertificate({ commonName, ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] });
}

/** `cloudcam camera add` arguments for a script: HTTPS, the password on stdin, the certificate pinned by --fingerprint. */
export function addArgs(camera: CameraSimulator, user = camera.username): string[] {
  if (!camera.fingerprint256) throw new Error('addArgs needs a camera simulator with HTTPS (tls)');
  return [camera.url, '--user', user, '--password-stdin', '--fingerprint', camera.fingerprint256];
}

/** Streams for a field command: stdin from `input`, stdout/stderr captured; XDG_CONFIG_HOME in a temp dir. */
export function fieldIo(configHome: string, input = ''): FieldIo & { stdout(): string; stderr(): string } {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (c: Buffer) => (o += c.toString('utf8')));
  err.on('data', (c: Buffer) => (e += c.toString('utf8')));
  return {
    out,
    err,
    input: Readable.from([Buffer.from(input)]),
    env: { XDG_CONFIG_HOME: configHome },
    stdout: () => o,
    stderr: () => e,
  };
}

export interface FieldKit {
  camera: CameraSimulator;
  dir: string;
  configHome: string;
  cleanup(): Promise<void>;
}

export async function startFieldKit(opts: Partial<CameraSimulatorOptions> = {}): Promise<FieldKit> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-field-'));
  // HTTPS with a self-signed certificate, like a camera out of the box; `tls: undefined` is not a way out.
  const camera = await startCameraSimulator({ name: 'field-cam', username: 'root', password: 'pass-word 1', ...opts, tls: opts.tls ?? (await cameraCertificate()) });
  return {
    camera,
    dir,
    configHome: path.join(dir, 'config'),
    cleanup: async () => {
      await camera.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
