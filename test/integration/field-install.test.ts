import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cameraAdd } from '../../src/cli/camera-command.js';
import { install } from '../../src/cli/install-command.js';
import { buildEap, readEapManifest } from '../../src/protocol/eap.js';
import { AxisAppError, listApps, uploadApp } from '../../src/protocol/vapix/applications.js';
import { VapixClient } from '../../src/protocol/vapix/client.js';
import { addArgs, fieldIo, startFieldKit, type FieldKit } from '../helpers/field.js';

describe('cloudcam install against the camera simulator', () => {
  let kit: FieldKit;
  let eapDir: string;
  beforeEach(async () => {
    kit = await startFieldKit();
    await cameraAdd(addArgs(kit.camera), fieldIo(kit.configHome, kit.camera.password));
    eapDir = path.join(kit.dir, 'eap');
    await mkdir(eapDir);
  });
  afterEach(async () => kit.cleanup());

  const writeEap = async (arch: 'armv7hf' | 'aarch64', version = '1.0.0') => {
    const file = path.join(eapDir, `cloudcam_${version.replace(/\./g, '_')}_${arch}.eap`);
    await writeFile(file, buildEap({ appName: 'cloudcam', version, architecture: arch, apiPath: 'api' }));
    return file;
  };

  it('reads back the manifest of the package it builds', () => {
    const m = readEapManifest(buildEap({ appName: 'cloudcam', version: '2.3.4', architecture: 'aarch64', apiPath: 'api' }));
    expect(m).toMatchObject({ appName: 'cloudcam', version: '2.3.4', architecture: 'aarch64', reverseProxy: [{ apiPath: 'api', access: 'admin' }] });
  });

  it('picks the package for the camera architecture, uploads, starts and confirms; the same version again is a no-op unless --force', async () => {
    await writeEap('aarch64');
    await writeEap('armv7hf');
    const io = fieldIo(kit.configHome);
    expect(await install(['--dir', eapDir], io)).toBe(0);
    expect(io.stdout()).toContain('cloudcam_1_0_0_armv7hf.eap');
    expect(io.stdout()).toContain('✓ cloudcam 1.0.0 installed and running');
    const installedAt = kit.camera.apps.get('cloudcam')?.installedAt;
    expect(kit.camera.apps.get('cloudcam')?.status).toBe('Running');

    const again = fieldIo(kit.configHome);
    expect(await install(['--dir', eapDir], again)).toBe(0);
    expect(again.stdout()).toContain('nothing to do');
    expect(kit.camera.apps.get('cloudcam')?.installedAt).toBe(installedAt); // not uploaded again

    const forced = fieldIo(kit.configHome);
    expect(await install(['--dir', eapDir, '--force'], forced)).toBe(0);
    expect(forced.stdout()).toContain('installed and running');
    expect(kit.camera.apps.get('cloudcam')?.installedAt).not.toBe(installedAt);
  });

  it('upgrades to a new version and starts a stopped app without uploading', async () => {
    const v1 = await writeEap('armv7hf', '1.0.0');
    expect(await install([v1], fieldIo(kit.configHome))).toBe(0);
    kit.camera.apps.control('stop', 'cloudcam');
    const restart = fieldIo(kit.configHome);
    expect(await install([v1], restart)).toBe(0);
    expect(restart.stdout()).toContain('starting it');
    const v2 = await writeEap('armv7hf', '1.1.0');
    const up = fieldIo(kit.configHome);
    expect(await install([v2], up)).toBe(0);
    expect(up.stdout()).toContain('replacing cloudcam 1.0.0 with 1.1.0');
    expect(kit.camera.apps.get('cloudcam')?.manifest.version).toBe('1.1.0');
  });

  it.each([
    [['0.9.0', '1.0.0'], '1.0.0'],
    [['0.9.0', '0.10.0'], '0.10.0'],
    [['1.0.0-rc.1', '0.9.9', '1.0.0'], '1.0.0'],
  ])('of %j in one folder it installs the highest version, %s (semver, not alphabetical)', async (versions, newest) => {
    for (const v of versions) await writeEap('armv7hf', v);
    const io = fieldIo(kit.configHome);
    expect(await install(['--dir', eapDir], io)).toBe(0);
    expect(io.stdout()).toContain(`✓ cloudcam ${newest} installed and running`);
    expect(kit.camera.apps.get('cloudcam')?.manifest.version).toBe(newest);
  });

  it('refuses a package for the wrong architecture before uploading, naming both', async () => {
    const only = await writeEap('aarch64');
    await expect(install([only], fieldIo(kit.configHome))).rejects.toThrow(/no package for this camera's architecture armv7hf: found only cloudcam_1_0_0_aarch64\.eap \(aarch64\)/);
    expect(kit.camera.apps.get('cloudcam')).toBeUndefined();
  });

  // Codes per developer.axis.com/vapix/applications/application-api ("Upload application"): 3 = too large or disk full.
  it('explains an upload the camera rejects (Error: 3) with its fix', async () => {
    await writeEap('armv7hf');
    kit.camera.setFaults({ uploadError: '3' });
    await expect(install(['--dir', eapDir], fieldIo(kit.configHome))).rejects.toThrow(/storage is full \(reply "Error: 3"\): remove apps you do not use/);
  });

  it('the camera itself refuses another architecture with Error: 5 (not compatible), and an unknown code is quoted, not hidden', async () => {
    const client = new VapixClient({ baseUrl: kit.camera.httpUrl, username: 'root', password: kit.camera.password, timeoutMs: 5000 });
    const wrong = buildEap({ appName: 'cloudcam', version: '1.0.0', architecture: 'aarch64' });
    const err = await uploadApp(client, wrong, 'x.eap').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AxisAppError);
    expect((err as AxisAppError).code).toBe('5');
    expect((err as Error).message).toMatch(/not compatible with this camera \(architecture/);
    kit.camera.setFaults({ uploadError: '77' });
    await expect(uploadApp(client, wrong, 'x.eap')).rejects.toThrow(/"Error: 77", a code cloudcam does not know/);
    await expect(uploadApp(client, Buffer.from('not a package'), 'x.eap')).rejects.toThrow(/Error: 77/);
    kit.camera.setFaults({});
    await expect(uploadApp(client, Buffer.from('not a package'), 'x.eap')).rejects.toThrow(/not an ACAP package \(\.eap\)/);
    expect(await listApps(client)).toEqual([]);
  });

  it('reports upload progress up to the whole body', async () => {
    const client = new VapixClient({ baseUrl: kit.camera.httpUrl, username: 'root', password: kit.camera.password, timeoutMs: 5000 });
    const eap = buildEap({ appName: 'cloudcam', version: '1.0.0', architecture: 'armv7hf', executable: Buffer.alloc(300_000, 7) });
    const seen: number[] = [];
    await uploadApp(client, eap, 'big.eap', { onProgress: (s, t) => seen.push(s / t) });
    expect(seen.at(-1)).toBe(1);
    expect(kit.camera.apps.get('cloudcam')?.status).toBe('Stopped');
  });
});
