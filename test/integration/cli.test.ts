import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, access } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetThingShadowCommand, IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { commands } from '../../src/cli/commands.js';
import type { DevcloudInfo } from '../../src/devcloud/info.js';
import { cliResult, runCli } from '../helpers/process.js';
import { startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';

const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

describe('cloudcam CLI', () => {
  it('lists every command and gives --help for each', async () => {
    const top = await cliResult(['--help']);
    expect(top.code).toBe(0);
    for (const c of commands) {
      expect(top.stdout).toContain(c.path.join(' '));
      const help = await cliResult([...c.path, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: cloudcam ${c.path.join(' ')}`));
    }
  });

  it('prints its version with --version and -v', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const r = await cliResult([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`cloudcam ${version}\n`);
    }
  });

  it('refuses unknown commands and bad options with exit code 2 and a hint', async () => {
    const unknown = await cliResult(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const bad = await cliResult(['devcloud', '--state-dir', '/tmp/x', '--cameras', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--cameras must be a whole number');
    const missing = await cliResult(['snapshot', 'request']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--thing THING is required');
  });

  it('agent with a bad config names the key and exits 1', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-cli-'));
    try {
      const file = path.join(dir, 'agent.json');
      await import('node:fs/promises').then((fs) => fs.writeFile(file, JSON.stringify({ thingName: 'cam 1', iot: { port: 'x' } })));
      const r = await cliResult(['agent', '--config', file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('thingName');
      expect(r.stderr).toContain('iot.port');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('cloudcam devcloud (process)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-devcloud-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes devcloud.json when ready, serves a snapshot request, stops cleanly on SIGTERM, reuses its PKI', async () => {
    const dc = runCli(['devcloud', '--state-dir', dir, '--cameras', '2', '--log-level', 'warn']);
    await dc.waitForOutput(/devcloud ready in \d+ ms/);
    const info = JSON.parse(await readFile(path.join(dir, 'devcloud.json'), 'utf8')) as DevcloudInfo;
    expect(Object.keys(info.devices)).toEqual(['camera-1', 'camera-2']);
    expect(Object.keys(info.cameras)).toEqual(['camera-1', 'camera-2']);
    expect(info.mqtt.url).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    for (const key of [info.devices['camera-1']!.keyPath, info.cloud.keyPath, path.join(dir, 'secrets.json'), info.devices['camera-1']!.agentConfigPath]) {
      expect((await stat(key)).mode & 0o077).toBe(0);
    }
    const agentConfig = JSON.parse(await readFile(info.devices['camera-2']!.agentConfigPath, 'utf8')) as { thingName: string; camera: { url: string } };
    expect(agentConfig.thingName).toBe('camera-2');
    // Cameras: HTTPS with their own self-signed certificate as the main URL, HTTP beside it for the agent.
    const cam = info.cameras['camera-2']!;
    expect(cam.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(cam.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(agentConfig.camera.url).toBe(cam.httpUrl);
    expect(new X509Certificate(await readFile(cam.certPath)).fingerprint256).toBe(cam.fingerprint256);
    const home = path.join(dir, 'field');
    const add = runCli(['camera', 'add', cam.url, '--user', cam.username, '--password-stdin', '--fingerprint', cam.fingerprint256], { XDG_CONFIG_HOME: home });
    add.child.stdin.end(cam.password);
    expect((await add.exited).code).toBe(0);

    const req = await cliResult(['snapshot', 'request', '--thing', 'camera-2', '--devcloud', dir]);
    expect(req.code).toBe(0);
    const id = /requested snapshot (\S+) from camera-2/.exec(req.stdout)?.[1];
    expect(id).toBeDefined();
    const iot = new IoTDataPlaneClient({ region: info.region, endpoint: info.dataPlane.url, credentials: { accessKeyId: info.dataPlane.accessKeyId, secretAccessKey: info.dataPlane.secretAccessKey } });
    const shadow = await iot.send(new GetThingShadowCommand({ thingName: 'camera-2', shadowName: 'cloudcam' }));
    iot.destroy();
    const doc = JSON.parse(Buffer.from(shadow.payload!).toString('utf8')) as { state: { desired: { snapshot: { id: string; url: string } } } };
    expect(doc.state.desired.snapshot.id).toBe(id);
    expect(doc.state.desired.snapshot.url).toBe(`${info.s3.url}/${info.s3.bucket}`);

    const caBefore = await readFile(info.caPath);
    dc.child.kill('SIGTERM');
    expect(await dc.exited).toEqual({ code: 0, signal: null });
    await expect(access(path.join(dir, 'devcloud.json'))).rejects.toThrow();
    expect(await portOpen(info.mqtt.port)).toBe(false);
    expect(await portOpen(Number(new URL(info.s3.url).port))).toBe(false);

    const again = runCli(['devcloud', '--state-dir', dir, '--cameras', '2', '--log-level', 'warn']);
    await again.waitForOutput(/devcloud ready/);
    expect((await readFile(info.caPath)).equals(caBefore)).toBe(true);
    // The camera keeps its certificate across restarts, so the pin made before still holds.
    const infoAgain = JSON.parse(await readFile(path.join(dir, 'devcloud.json'), 'utf8')) as DevcloudInfo;
    expect(infoAgain.cameras['camera-2']!.fingerprint256).toBe(cam.fingerprint256);
    // (devcloud's ports are new after a restart; the certificate, and so the fingerprint to pin, are not.)
    const readd = runCli(['camera', 'add', infoAgain.cameras['camera-2']!.url, '--user', cam.username, '--password-stdin', '--fingerprint', cam.fingerprint256], { XDG_CONFIG_HOME: home });
    readd.child.stdin.end(cam.password);
    expect((await readd.exited).code).toBe(0);
    const check = await cliResult(['setup', 'check', '--camera', infoAgain.cameras['camera-2']!.url], { XDG_CONFIG_HOME: home });
    expect(check.stdout).toMatch(/✓ camera certificate +pinned/);
    expect(check.stdout).toMatch(/✓ reachable/);
    again.child.kill('SIGINT');
    expect((await again.exited).code).toBe(0);
  });

  it('snapshot request without a running devcloud says how to start one', async () => {
    const r = await cliResult(['snapshot', 'request', '--thing', 'camera-1', '--devcloud', path.join(dir, 'nope')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cloudcam devcloud --state-dir');
  });
});

describe('cloudcam agent (process)', () => {
  let t: TestDevcloud;
  beforeAll(async () => {
    t = await startTestDevcloud({ broker: 'aedes' });
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('announces online, serves a snapshot, and on SIGTERM publishes offline and exits 0', async () => {
    const info = t.dc.info;
    const watcher = await mqtt.connectAsync(info.mqtt.url, {
      ca: await readFile(info.caPath),
      cert: await readFile(info.cloud.certPath),
      key: await readFile(info.cloud.keyPath),
      clientId: 'test-watcher',
      protocolVersion: 4,
    });
    const presence: string[] = [];
    const gotOffline = new Promise<void>((resolve) =>
      watcher.on('message', (_topic, payload) => {
        const state = (JSON.parse(payload.toString()) as { state: string }).state;
        presence.push(state);
        if (state === 'offline') resolve();
      }),
    );
    await watcher.subscribeAsync('cloudcam/camera-1/presence', { qos: 1 });
    const uploaded = new Promise<void>((resolve) => t.dc.s3.events.once('object', () => resolve()));

    const agent = runCli(['agent', '--config', info.devices['camera-1']!.agentConfigPath], { CLOUDCAM_LOG_FORMAT: 'json' });
    await uploaded;
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    await gotOffline;
    expect(presence).toEqual(['online', 'offline']);
    expect(agent.stdout()).toContain('"event":"snapshot.uploaded"');
    await watcher.endAsync();
  });
});
