/**
 * The example configs in config/ stay valid: each is loaded the way the packaged agent loads its
 * site file (package defaults, then the site file; strict, so a misspelt key fails), with real
 * certificate files at the paths the package defaults name.
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPackagedConfig } from '../../src/agent/packaged-app.js';
import { allowListProblem } from '../../src/agent/upload-target.js';
import { createCa, issueCertificate } from '../../src/devcloud/pki.js';
import { defaultsFileContent } from '../../src/packaging/package-files.js';

const EXAMPLES = path.resolve('config');

describe('config/ examples', () => {
  let appDir: string;
  beforeAll(async () => {
    appDir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-examples-'));
    await writeFile(path.join(appDir, 'cloudcam.defaults.json'), defaultsFileContent());
    // The files the package defaults point at, as `cloudcam setup certs` leaves them.
    const ca = await createCa('example CA');
    const device = await issueCertificate(ca, { commonName: 'cam-lobby-1', usage: 'client' });
    const certs = path.join(appDir, 'localdata', 'certs');
    await mkdir(certs, { recursive: true });
    // The broker CA the package ships (certs/, the default iot.caPath), copied as the build does.
    await mkdir(path.join(appDir, 'certs'));
    await copyFile(path.resolve('certs', 'AmazonRootCAs.pem'), path.join(appDir, 'certs', 'AmazonRootCAs.pem'));
    await writeFile(path.join(certs, 'device.crt'), device.certPem);
    await writeFile(path.join(certs, 'device.key'), device.keyPem, { mode: 0o600 });
  });
  afterAll(async () => rm(appDir, { recursive: true, force: true }));

  const load = async (file: string) => {
    const siteFile = path.join(appDir, 'localdata', 'cloudcam.json');
    await copyFile(file, siteFile);
    const layout = { appDir, appName: 'cloudcam', defaultsFile: path.join(appDir, 'cloudcam.defaults.json'), siteFile, onCamera: false };
    return (await loadPackagedConfig(layout, {})).config;
  };

  it('every example is listed in config/README.md', async () => {
    const readme = await readFile(path.join(EXAMPLES, 'README.md'), 'utf8');
    const files = (await readdir(EXAMPLES)).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(['acap-camera.json', 'gateway.json']);
    for (const f of files) expect(readme).toContain(`\`${f}\``);
  });

  it('acap-camera.json: the agent on the camera, VAPIX on the loopback', async () => {
    const c = await load(path.join(EXAMPLES, 'acap-camera.json'));
    expect(c.thingName).toBe('cam-lobby-1');
    expect(c.camera.url).toBe('http://127.0.0.1');
    expect(c.iot.certPath).toBe(path.join(appDir, 'localdata', 'certs', 'device.crt'));
    expect(c.stateDir).toBe(path.join(appDir, 'localdata', 'state'));
    expect(c.schedule.cron).toBe('0 * * * *');
    expect(c.camera.access).toBe('auto'); // keyless: the camera's D-Bus service account, no password stored
    expect(c.camera.password).toBe('');
    expect(allowListProblem(c.snapshot.allowedUploadHosts)).toBeUndefined(); // startAgent would start
  });

  it('gateway.json: a camera on the LAN, MQTT on 443, syslog to a collector', async () => {
    const c = await load(path.join(EXAMPLES, 'gateway.json'));
    expect(c.thingName).toBe('cam-gate-2');
    expect(c.camera.url).toBe('http://192.168.0.90');
    expect(c.iot.port).toBe(443);
    expect(c.log.syslog.url).toBe('udp://192.168.0.10:514');
    expect(allowListProblem(c.snapshot.allowedUploadHosts)).toBeUndefined();
  });

  it('a misspelt key in an example would fail the load', async () => {
    const bad = JSON.parse(await readFile(path.join(EXAMPLES, 'gateway.json'), 'utf8')) as Record<string, unknown>;
    const misspelt = path.join(appDir, 'misspelt.json');
    await writeFile(misspelt, JSON.stringify({ ...bad, snapshots: {} }));
    await expect(load(misspelt)).rejects.toThrow(/snapshots/);
  });
});
