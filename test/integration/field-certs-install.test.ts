import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cameraAdd } from '../../src/cli/camera-command.js';
import { install } from '../../src/cli/install-command.js';
import { setupCertsCli } from '../../src/cli/setup-command.js';
import { isLoopback, type AgentStatus } from '../../src/agent/features/local-api.js';
import { CAMERA_PROFILE_NAMES } from '../../src/devcloud/camera/profiles.js';
import { startCameraSimulator, type CameraSimulator, type CameraSimulatorOptions } from '../../src/devcloud/camera/simulator.js';
import { issueCertificate, loadCa, writeCertificate, type CertificateAuthority } from '../../src/devcloud/pki.js';
import { buildEap } from '../../src/protocol/eap.js';
import { VapixClient } from '../../src/protocol/vapix/client.js';
import { VapixError } from '../../src/protocol/vapix/errors.js';
import { startTestAgent, startTestDevcloud, waitForConnected, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import { addArgs, cameraCertificate, fieldIo } from '../helpers/field.js';

const DAY = 86_400_000;

/** Everything in the identity store, path → content: what "nothing was written" is checked against. */
async function identityStore(stateDir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const mark = path.join(stateDir, 'identity.json');
  await readFile(mark, 'utf8').then((t) => (out['identity.json'] = t), () => undefined);
  const dir = path.join(stateDir, 'identity');
  for (const f of await readdir(dir).catch(() => [] as string[])) out[`identity/${f}`] = await readFile(path.join(dir, f), 'utf8');
  return out;
}

describe('cloudcam setup certs installs into the running agent through the camera reverse proxy', () => {
  let tdc: TestDevcloud;
  let camera: CameraSimulator;
  let home: string;
  let work: string;
  let ca: CertificateAuthority;
  let caFile: string;
  let agent: TestAgent | undefined;
  let eap: Buffer;
  /** The agent's first identity, a copy that the test deletes to prove the agent no longer reads it. */
  let original: { certPath: string; keyPath: string };
  let stateDir: string;

  const startAgent = () =>
    startTestAgent(tdc.dc, 'camera-1', (c) => {
      c.iot.certPath = original.certPath;
      c.iot.keyPath = original.keyPath;
      c.stateDir = stateDir;
    });
  const admin = () => new VapixClient({ baseUrl: camera.httpUrl, username: camera.username, password: camera.password, timeoutMs: 10_000 });
  const status = async (): Promise<AgentStatus> => JSON.parse((await admin().call('GET', '/local/cloudcam/api/status')).body.toString('utf8')) as AgentStatus;
  const post = (body: unknown) => admin().call('POST', '/local/cloudcam/api/certs', { body: JSON.stringify(body) });

  beforeAll(async () => {
    tdc = await startTestDevcloud({ broker: 'aedes' });
    camera = tdc.dc.cameras.get('camera-1')!;
    home = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-certs-'));
    work = path.join(home, 'work');
    stateDir = path.join(home, 'state');
    const configured = tdc.dc.info.devices['camera-1']!;
    caFile = tdc.dc.info.caPath;
    original = await writeCertificate(path.join(home, 'original'), 'camera-1', { certPem: await readFile(configured.certPath, 'utf8'), keyPem: await readFile(configured.keyPath, 'utf8') });
    ca = await loadCa(tdc.dc.pki);
    await cameraAdd(addArgs(camera), fieldIo(home, camera.password));
    eap = buildEap({ appName: 'cloudcam', version: '0.1.0', architecture: camera.identity.architecture, apiPath: 'api' });
    await writeFile(path.join(home, 'cloudcam.eap'), eap);
    expect(await install([path.join(home, 'cloudcam.eap')], fieldIo(home))).toBe(0);
    agent = await startAgent();
    await waitForConnected(agent);
    camera.setAppTarget('cloudcam', agent.agent.localApiUrl());
  });
  afterAll(async () => {
    await agent?.stop();
    await tdc.cleanup();
    await rm(home, { recursive: true, force: true });
  });

  /** Another camera, HTTPS with its own certificate, whose running cloudcam app is the suite's agent behind its reverse proxy. */
  const cameraBeforeAgent = async (opts: Partial<CameraSimulatorOptions>): Promise<CameraSimulator> => {
    const cam = await startCameraSimulator({ name: 'other-cam', username: 'root', password: 'admin pw', ...opts, tls: await cameraCertificate() });
    expect(cam.apps.upload(eap)).toBe('OK');
    cam.apps.control('start', 'cloudcam');
    cam.setAppTarget('cloudcam', agent!.agent.localApiUrl());
    return cam;
  };

  const files = async (name: string, p: { certPem: string; keyPem: string }) => {
    const w = await writeCertificate(path.join(work, name), 'device', p);
    return ['--cert', w.certPath, '--key', w.keyPath, '--ca', caFile];
  };

  it('the agent refuses an expired certificate and a key that does not match, writing nothing', async () => {
    const before = await identityStore(stateDir);
    const fingerprint = (await status()).certificate?.fingerprint256;
    const caPem = await readFile(caFile, 'utf8');
    const expired = await issueCertificate(ca, { commonName: 'camera-1', usage: 'client', notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) });
    const res = await post({ certificatePem: expired.certPem, privateKey: expired.keyPem, caPem });
    expect(res.status).toBe(400);
    const text = res.body.toString('utf8');
    expect((JSON.parse(text) as { problems: string[] }).problems.join('\n')).toMatch(/the certificate expired on /);
    const fresh = await issueCertificate(ca, { commonName: 'camera-1', usage: 'client' });
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    // The AWS create-keys-and-certificate shape, with a key of another certificate.
    const mismatch = await post({ certificatePem: fresh.certPem, keyPair: { PrivateKey: otherKey }, caPem });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.toString('utf8')).toContain('the private key does not belong to this certificate');
    for (const reply of [text, mismatch.body.toString('utf8')]) expect(reply).not.toContain('PRIVATE' + ' KEY');
    expect(await identityStore(stateDir)).toEqual(before);
    const now = await status();
    expect(now.connected).toBe(true);
    expect(now.certificate?.fingerprint256).toBe(fingerprint);
  });

  it('validates without sending anything with --dry-run', async () => {
    const before = await identityStore(stateDir);
    const proxied = camera.stats.proxied;
    const io = fieldIo(home);
    expect(await setupCertsCli([...(await files('dry', await issueCertificate(ca, { commonName: 'camera-1', usage: 'client' }))), '--dry-run'], io)).toBe(0);
    expect(io.stdout()).toContain('dry run: nothing was sent to the camera');
    // Only the clock is read: nothing goes through /local/ to the agent (the agent's own captures
    // also reach this camera, so the total request count says nothing here).
    expect(camera.stats.proxied).toBe(proxied);
    expect(await identityStore(stateDir)).toEqual(before);
  });

  it('a camera user below admin gets 401 from the reverse proxy and the command names the fix', async () => {
    const cam = await cameraBeforeAgent({ name: 'roles-cam', username: 'root', password: 'admin pw', users: [{ username: 'op', password: 'op pw', role: 'operator' }] });
    const opHome = path.join(home, 'operator');
    try {
      const op = new VapixClient({ baseUrl: cam.httpUrl, username: 'op', password: 'op pw', timeoutMs: 5000 });
      const refused = await op.call('GET', '/local/cloudcam/api/status').then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(VapixError);
      expect((refused as VapixError).status).toBe(401);
      // The admin gets through the same proxy: the refusal is the role, not the route.
      const asAdmin = new VapixClient({ baseUrl: cam.httpUrl, username: 'root', password: 'admin pw', timeoutMs: 5000 });
      expect((await asAdmin.call('GET', '/local/cloudcam/api/status')).status).toBe(200);

      const before = await identityStore(stateDir);
      await cameraAdd(addArgs(cam, 'op'), fieldIo(opHome, 'op pw'));
      const io = fieldIo(opHome);
      expect(await setupCertsCli([...(await files('op', await issueCertificate(ca, { commonName: 'camera-1', usage: 'client' })))], io)).toBe(1);
      expect(io.stdout()).toMatch(/✗ not installed: the camera refused \/local\/cloudcam\/api\/challenge/);
      expect(io.stdout()).toContain('fix: the certificate endpoint is admin-only');
      expect(await identityStore(stateDir)).toEqual(before);
    } finally {
      await cam.stop();
    }
  });

  // Each firmware's authentication (profiles.ts: 12 Basic over HTTPS, 11 Digest MD5 with stale=true
  // on a reused nonce, 10 Digest MD5 with algorithm and opaque) carries the challenge and the install
  // through the reverse proxy to the agent.
  for (const profile of CAMERA_PROFILE_NAMES) {
    it(`installs through the reverse proxy of an ${profile} camera`, async () => {
      const cam = await cameraBeforeAgent({ name: `certs-${profile}`, profile });
      const profileHome = path.join(home, profile);
      try {
        expect(await cameraAdd(addArgs(cam), fieldIo(profileHome, cam.password))).toBe(0);
        const renewed = await issueCertificate(ca, { commonName: 'camera-1', usage: 'client' });
        const proxied = cam.stats.proxied;
        const io = fieldIo(profileHome);
        expect(await setupCertsCli(await files(profile, renewed), io)).toBe(0);
        expect(io.stdout()).toContain('✓ agent connected as camera-1 with the new certificate');
        // The challenge, the install and the confirmation all went through this camera's proxy.
        expect(cam.stats.proxied - proxied).toBeGreaterThanOrEqual(2);
        expect((await status()).certificate?.fingerprint256).toBe(new X509Certificate(renewed.certPem).fingerprint256);
      } finally {
        await cam.stop();
      }
    });
  }

  it('installs a new certificate for the same thing; the agent reconnects with it and keeps it across a restart', async () => {
    const old = (await status()).certificate?.fingerprint256;
    const renewed = await issueCertificate(ca, { commonName: 'camera-1', usage: 'client', notAfter: new Date(Date.now() + 90 * DAY) });
    const fingerprint = new X509Certificate(renewed.certPem).fingerprint256;
    expect(fingerprint).not.toBe(old);
    const args = await files('renewed', renewed);

    const io = fieldIo(home);
    expect(await setupCertsCli(args, io)).toBe(0);
    expect(io.stdout()).toContain('✓ the agent of camera-1 proved it holds its current device key');
    expect(io.stdout()).toContain(`fingerprint  ${fingerprint}`);
    expect(io.stdout()).toMatch(/✓ installed for camera-1 \(certificate id [0-9a-f]{64}\), expires /);
    expect(io.stdout()).toContain('✓ agent connected as camera-1 with the new certificate');
    const now = await status();
    expect(now.connected).toBe(true);
    expect(now.certificate?.fingerprint256).toBe(fingerprint);

    const store = await identityStore(stateDir);
    expect(store['identity/device.crt']).toBe(renewed.certPem);
    expect(store['identity/device.key']).toBe(renewed.keyPem);
    // The request's CA is never stored: the broker stays trusted through the configured iot.caPath.
    expect(store['identity/ca.pem']).toBeUndefined();
    expect(now.identity).toMatchObject({ state: 'confirmed', certificateId: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown });
    await agent!.waitForLog((l) => l['event'] === 'certs.confirmed');
    expect(JSON.parse((await identityStore(stateDir))['identity.json']!)).toEqual(expect.not.objectContaining({ trial: true }));
    expect(JSON.parse(store['identity.json']!)).toMatchObject({ thingName: 'camera-1', source: 'installed' });
    for (const f of ['identity/device.crt', 'identity/device.key', 'identity.json']) expect((await stat(path.join(stateDir, f))).mode & 0o777).toBe(0o600);

    const logs = JSON.stringify(agent!.logs);
    expect(logs).toContain('"event":"certs.installed"');
    expect(logs).not.toContain('PRIVATE' + ' KEY');
    expect(logs).not.toContain(renewed.keyPem.split('\n')[1]);

    // A restart reads the installed identity, not the configured files (deleted now, so it cannot).
    await rm(path.dirname(original.certPath), { recursive: true });
    await agent!.stop();
    agent = await startAgent();
    await waitForConnected(agent);
    camera.setAppTarget('cloudcam', agent.agent.localApiUrl());
    expect((await status()).certificate?.fingerprint256).toBe(fingerprint);
    await agent.waitForLog((l) => l['event'] === 'certs.using-installed');
  });

  it('brings an agent that cannot connect (expired certificate, retrying with backoff) online at once', async () => {
    await agent!.stop();
    const past = Date.now() - 10 * DAY;
    const expired = await writeCertificate(path.join(work, 'expired'), 'device', await issueCertificate(ca, { commonName: 'camera-1', usage: 'client', notBefore: new Date(past - DAY), notAfter: new Date(past) }));
    agent = await startTestAgent(tdc.dc, 'camera-1', (c) => {
      c.iot.certPath = expired.certPath;
      c.iot.keyPath = expired.keyPath;
      c.stateDir = path.join(home, 'state-expired');
      // Without the install the next attempt would be minutes away.
      c.iot.reconnect.minMs = 120_000;
      c.iot.reconnect.maxMs = 300_000;
    });
    camera.setAppTarget('cloudcam', agent.agent.localApiUrl());
    await agent.waitForLog((l) => typeof l['cause'] === 'string');
    expect((await status()).connected).toBe(false);
    const io = fieldIo(home);
    expect(await setupCertsCli(await files('rescue', await issueCertificate(ca, { commonName: 'camera-1', usage: 'client' })), io)).toBe(0);
    expect(io.stdout()).toContain('✓ agent connected as camera-1 with the new certificate');
  });

  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && !i.internal && i.family === 'IPv4')?.address;
  it.skipIf(external === undefined)('the local API is not reachable on a non-loopback address of this machine', async () => {
    const port = new URL(agent!.agent.localApiUrl()!).port;
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const req = request({ host: external, port, path: '/status', timeout: 3000 }, (res) => {
        res.resume();
        resolve(undefined);
      });
      req.on('error', (e) => resolve(e));
      req.end();
    });
    expect(err?.code).toBe('ECONNREFUSED');
  });

  it('treats only loopback peers as local', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a)).toBe(true);
    for (const a of [undefined, '10.0.0.5', '::ffff:192.168.1.2', 'fe80::1', '128.0.0.1']) expect(isLoopback(a)).toBe(false);
  });
});
