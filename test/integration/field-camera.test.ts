import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cameraAdd, cameraList, cameraRemove } from '../../src/cli/camera-command.js';
import { UsageError } from '../../src/cli/command.js';
import { addArgs, fieldIo, startFieldKit, type FieldKit } from '../helpers/field.js';

describe('cloudcam camera add|list|remove against the camera simulator', () => {
  let kit: FieldKit;
  beforeEach(async () => {
    kit = await startFieldKit();
  });
  afterEach(async () => kit.cleanup());

  it('verifies the password from stdin, stores it 0600 under XDG_CONFIG_HOME, lists and removes it', async () => {
    const io = fieldIo(kit.configHome, `${kit.camera.password}\n`);
    expect(await cameraAdd(addArgs(kit.camera), io)).toBe(0);
    expect(io.stdout()).toContain('credentials verified');
    expect(io.stdout()).not.toContain(kit.camera.password);
    const file = path.join(kit.configHome, 'cloudcam', 'cameras.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(await readFile(file, 'utf8')) as { cameras: Record<string, { password: string; architecture: string }> };
    expect(stored.cameras[kit.camera.url]?.password).toBe(kit.camera.password);
    expect(stored.cameras[kit.camera.url]?.architecture).toBe('armv7hf');

    const list = fieldIo(kit.configHome);
    await cameraList([], list);
    expect(list.stdout()).toContain(kit.camera.url);
    expect(list.stdout()).not.toContain(kit.camera.password);

    const rm = fieldIo(kit.configHome);
    expect(await cameraRemove([kit.camera.url], rm)).toBe(0);
    const after = fieldIo(kit.configHome);
    await cameraList([], after);
    expect(after.stdout()).toContain('no cameras stored');
  });

  it('refuses a wrong password with a message naming the credentials, and stores nothing', async () => {
    const io = fieldIo(kit.configHome, 'not-the-password\n');
    await expect(cameraAdd(addArgs(kit.camera), io)).rejects.toThrow(/refused the credentials of user "root"/);
    await expect(stat(path.join(kit.configHome, 'cloudcam', 'cameras.json'))).rejects.toThrow(/ENOENT/);
  });

  it('never takes a password from argv and asks for --password-stdin without a terminal', async () => {
    await expect(cameraAdd([kit.camera.url, '--password', 'x'], fieldIo(kit.configHome))).rejects.toThrow(UsageError);
    await expect(cameraAdd([kit.camera.url, '--user', 'root', '--fingerprint', kit.camera.fingerprint256!], fieldIo(kit.configHome))).rejects.toThrow(/--password-stdin/);
  });
});
