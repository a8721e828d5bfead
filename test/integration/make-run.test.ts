/**
 * `make run` (scripts/run.mjs) tells its user how to watch live before anyone presses Live: the
 * signalling WSS has devcloud's own certificate, which no browser trusts. The line it prints must be
 * usable as printed: a chromium with a profile of its own (in the state dir) that pins exactly the key
 * the signalling endpoint presents, and the CA file for a user who would rather import it.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevcloudInfo } from '../../src/devcloud/info.js';
import { spkiPin } from '../../src/lib/spki-pin.js';
import { ROOT } from '../helpers/process.js';

/** The certificate a TLS endpoint presents, as the browser sees it. */
function presented(url: string, ca: Buffer): Promise<Buffer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: u.hostname, port: Number(u.port), ca }, () => {
      resolve(socket.getPeerCertificate().raw);
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('make run (scripts/run.mjs)', () => {
  let dir: string;
  let output = '';
  let info: DevcloudInfo;
  let signallingCert: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-make-run-'));
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts/run.mjs'), '--state-dir', dir, '--broker', 'aedes', '--count', '1', '--every', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    // The printed lines come before the agent starts; read what the endpoint presents while devcloud runs.
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (/agent started/.test(output)) resolve();
      };
      child.stdout.on('data', check);
      child.once('exit', (code) => reject(new Error(`run.mjs exited (${code}) before the agent started:\n${output}`)));
    });
    info = JSON.parse(await readFile(path.join(dir, 'devcloud.json'), 'utf8')) as DevcloudInfo;
    signallingCert = await presented(info.live.kvs.signallingUrl, await readFile(info.caPath));
    const exited = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
    expect(exited, output).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints a chromium command line that pins the signalling endpoint\'s key, with its own profile, for the viewer', () => {
    const line = output.split('\n').find((l) => l.trim().startsWith('chromium '));
    expect(line, output).toBeDefined();
    const args = line!.trim().split(' ');
    expect(args[0]).toBe('chromium');
    expect(args).toContain(`--user-data-dir=${path.join(dir, 'chromium-live-profile')}`);
    expect(args).toContain(`--ignore-certificate-errors-spki-list=${spkiPin(signallingCert)}`);
    expect(args.at(-1)).toBe(info.viewer.url);
  });

  it('names the CA file as the other way, with the warning that goes with it', () => {
    expect(output).toContain(`or import ${info.caPath} as an authority in your browser and remove it when done`);
    expect(output).toMatch(/live view: the Live button needs a browser that trusts devcloud's signalling certificate/);
  });
});
