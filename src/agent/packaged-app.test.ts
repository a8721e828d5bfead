import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appLayout, loadPackagedConfig } from './packaged-app.js';
import { paramsToConfig } from './app-params.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An unpacked package: executable placeholder, defaults as the build writes them, provisioned certs. */
function packageDir(opts: { manifest?: boolean; site?: object }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloudcam-app-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'cloudcam'), '');
  fs.writeFileSync(
    path.join(dir, 'cloudcam.defaults.json'),
    JSON.stringify({ iot: { caPath: 'localdata/certs/ca.pem', certPath: 'localdata/certs/device.crt', keyPath: 'localdata/certs/device.key' }, stateDir: 'localdata/state' }),
  );
  fs.mkdirSync(path.join(dir, 'localdata', 'certs'), { recursive: true });
  // Keys 0600, as the agent requires of a private key (config/checks.ts privateKeyProblems).
  for (const f of ['ca.pem', 'device.crt', 'device.key']) fs.writeFileSync(path.join(dir, 'localdata', 'certs', f), 'pem', { mode: 0o600 });
  if (opts.site) fs.writeFileSync(path.join(dir, 'localdata', 'cloudcam.json'), JSON.stringify(opts.site));
  if (opts.manifest) fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ schemaVersion: '2.0.0', acapPackageConf: { setup: { appName: 'cloudcam' } } }));
  return dir;
}

/** A real HTTP server answering param.cgi like a camera does for an installed app. */
async function paramServer(body: string): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

describe('the packaged agent settings', () => {
  it('on a gateway: package defaults, then the site file, then the environment; paths start at the package dir', async () => {
    const dir = packageDir({ site: { thingName: 'gw-cam', iot: { endpoint: 'a1.iot.eu-west-1.amazonaws.com' }, schedule: { cron: '*/5 * * * *' } } });
    const layout = appLayout({}, path.join(dir, 'cloudcam'));
    expect(layout.onCamera).toBe(false);
    const { config } = await loadPackagedConfig(layout, { CLOUDCAM_SCHEDULE_CRON: '' });
    expect(config.thingName).toBe('gw-cam');
    expect(config.iot.endpoint).toBe('a1.iot.eu-west-1.amazonaws.com');
    expect(config.iot.keyPath).toBe(path.join(dir, 'localdata', 'certs', 'device.key'));
    expect(config.stateDir).toBe(path.join(dir, 'localdata', 'state'));
    expect(config.schedule.cron).toBe('');
  });

  it('on a camera: the app parameters read over param.cgi win over the site file; empty ones do not', async () => {
    const cam = await paramServer('root.cloudcam.ThingName=cam-from-ui\nroot.cloudcam.IotPort=443\nroot.cloudcam.ScheduleCron=\nroot.cloudcam.AllowedUploadHosts=a.example.com, *.example.net\n');
    const dir = packageDir({
      manifest: true,
      site: { thingName: 'cam-from-file', iot: { endpoint: 'a1.iot.eu-west-1.amazonaws.com', port: 8883 }, schedule: { cron: '0 * * * *' }, camera: { url: cam.url, username: 'op', password: 'secret' } },
    });
    const { config, notes } = await loadPackagedConfig(appLayout({}, path.join(dir, 'cloudcam')), {});
    expect(cam.requests).toEqual(['/axis-cgi/param.cgi?action=list&group=cloudcam']);
    expect(config.thingName).toBe('cam-from-ui');
    expect(config.iot.port).toBe(443);
    expect(config.schedule.cron).toBe('0 * * * *');
    expect(config.snapshot.allowedUploadHosts).toEqual(['a.example.com', '*.example.net']);
    expect(notes.join('\n')).toContain('root.cloudcam: thingName, iot.port, snapshot.allowedUploadHosts');
    expect(notes.join('\n')).not.toContain('secret');
  });

  it('on a camera whose parameters cannot be read: says why and starts from the files', async () => {
    const dir = packageDir({ manifest: true, site: { thingName: 'cam-1', iot: { endpoint: 'h.example.com' }, camera: { url: 'http://127.0.0.1:1', username: 'op', password: 'x' } } });
    const { config, notes } = await loadPackagedConfig(appLayout({}, path.join(dir, 'cloudcam')), {});
    expect(config.thingName).toBe('cam-1');
    expect(notes.join('\n')).toMatch(/app parameters root\.cloudcam not read \(.+\); continuing with the files/);
  });

  it('names the parameter a bad value came from', async () => {
    const cam = await paramServer('root.cloudcam.IotPort=http\n');
    const dir = packageDir({ manifest: true, site: { thingName: 'c', iot: { endpoint: 'h.example.com' }, camera: { url: cam.url, username: 'op', password: 'x' } } });
    await expect(loadPackagedConfig(appLayout({}, path.join(dir, 'cloudcam')), {})).rejects.toThrow(/iot\.port.*parameters root\.cloudcam|parameters root\.cloudcam[\s\S]*iot\.port/);
  });

  it('on a camera: keeps localdata/runtime.env equal to the runtime parameters, for the launcher to apply at the next start', async () => {
    const cam = await paramServer('root.cloudcam.NodeOptions=--max-old-space-size=64\nroot.cloudcam.UvThreadpoolSize=\n');
    const dir = packageDir({ manifest: true, site: { thingName: 'c', iot: { endpoint: 'h.example.com' }, camera: { url: cam.url, username: 'op', password: 'x' } } });
    const file = path.join(dir, 'localdata', 'runtime.env');
    const { notes } = await loadPackagedConfig(appLayout({}, path.join(dir, 'cloudcam')), {});
    expect(fs.readFileSync(file, 'utf8')).toMatch(/\nNODE_OPTIONS=--max-old-space-size=64\n$/);
    expect(notes.join('\n')).toContain('apply when the app next starts');
    const again = await loadPackagedConfig(appLayout({}, path.join(dir, 'cloudcam')), {});
    expect(again.notes.join('\n')).not.toContain('runtime settings'); // unchanged: no note, no write

    const refused = await paramServer('root.cloudcam.NodeOptions=--inspect\n');
    fs.writeFileSync(path.join(dir, 'localdata', 'cloudcam.json'), JSON.stringify({ thingName: 'c', iot: { endpoint: 'h.example.com' }, camera: { url: refused.url, username: 'op', password: 'x' } }));
    const third = await loadPackagedConfig(appLayout({}, path.join(dir, 'cloudcam')), {});
    expect(third.notes.join('\n')).toMatch(/parameter NodeOptions: "--inspect" is not allowed/);
    expect(fs.existsSync(file)).toBe(false); // back to the launcher's defaults
  });

  it('maps parameter text onto typed settings', () => {
    expect(paramsToConfig('app', { 'app.MqttVersion': '3.1.1', 'app.SnapshotCompression': '40', 'app.LogLevel': ' ', 'other.ThingName': 'x' })).toEqual({
      iot: { mqttVersion: 4 },
      snapshot: { compression: 40 },
    });
  });
});
