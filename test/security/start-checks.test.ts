/**
 * Security at start: what the agent refuses before it talks to anyone. The key file must be private
 * to its owner, TLS verification has no off switch (not in the config, not through the environment),
 * and there is no plaintext MQTT.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadAgentConfig } from '../../src/agent/config/index.js';
import { createConnection } from '../../src/agent/connection.js';
import { createCa, ensurePki, issueCertificate, type DevPki } from '../../src/devcloud/pki.js';
import { LEVEL, captureLog, testConfig } from '../helpers/agent-connection-kit.js';
import { rejectionOf } from '../helpers/rejection.js';
import { StateDirError, secureStateDirs } from '../../src/agent/state-dir.js';
import { checkUploadTarget } from '../../src/agent/upload-target.js';

const THING = 'cam-sec-1';
const BUCKET_HOST = 'cloudcam-snapshots-abc.s3.eu-north-1.amazonaws.com';
const CLI = path.resolve('dist/cli.js');
let root: string;
let pki: DevPki;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'cloudcam-sec-'));
  pki = await ensurePki(path.join(root, 'pki'), [THING]);
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function configFile(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const device = pki.devices[THING]!;
  const file = path.join(root, `${name}.json`);
  const iot = { endpoint: '127.0.0.1', caPath: pki.caCertPath, certPath: device.certPath, keyPath: device.keyPath, ...((extra['iot'] as object | undefined) ?? {}) };
  await fs.writeFile(file, JSON.stringify({ thingName: THING, stateDir: path.join(root, `${name}.state`), snapshot: { allowedUploadHosts: [BUCKET_HOST] }, ...extra, iot }));
  return file;
}

function problems(file: string): string[] {
  try {
    loadAgentConfig(file, {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

describe('private key permissions', () => {
  it.each([
    [0o644, 'group and others'],
    [0o640, 'group'],
    [0o604, 'others'],
    [0o660, 'group'],
  ])('mode %s is refused with the chmod that fixes it', async (mode, who) => {
    const device = pki.devices[THING]!;
    const keyPath = path.join(root, `loose-${mode.toString(8)}.key`);
    await fs.copyFile(device.keyPath, keyPath);
    await fs.chmod(keyPath, mode);
    const p = problems(await configFile(`loose-${mode.toString(8)}`, { iot: { keyPath } }));
    expect(p).toHaveLength(1);
    expect(p[0]).toContain(`accessible by ${who}`);
    expect(p[0]).toContain(`Fix: chmod 600 ${keyPath}`);
  });

  it('0600 and 0400 are accepted', async () => {
    for (const mode of [0o600, 0o400]) {
      const keyPath = path.join(root, `tight-${mode.toString(8)}.key`);
      await fs.copyFile(pki.devices[THING]!.keyPath, keyPath);
      await fs.chmod(keyPath, mode);
      expect(problems(await configFile(`tight-${mode.toString(8)}`, { iot: { keyPath } }))).toEqual([]);
    }
  });

  it('quotes a path with spaces so the printed command works as pasted', async () => {
    const dir = path.join(root, 'my keys');
    await fs.mkdir(dir, { recursive: true });
    const keyPath = path.join(dir, "cam's.key");
    await fs.copyFile(pki.devices[THING]!.keyPath, keyPath);
    await fs.chmod(keyPath, 0o644);
    const [p] = problems(await configFile('quoted', { iot: { keyPath } }));
    const command = /Fix: (chmod 600 .*)$/.exec(p ?? '')?.[1];
    expect(command).toBeDefined();
    const fixed = spawnSync('sh', ['-c', command!]);
    expect(fixed.status).toBe(0);
    expect((await fs.stat(keyPath)).mode & 0o777).toBe(0o600);
  });

  it('the agent process exits 1 before connecting and prints the fix (no key material)', async () => {
    const keyPath = path.join(root, 'cli-loose.key');
    await fs.copyFile(pki.devices[THING]!.keyPath, keyPath);
    await fs.chmod(keyPath, 0o644);
    const r = spawnSync(process.execPath, [CLI, 'agent', '--config', await configFile('cli-loose', { iot: { keyPath } })], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    const out = r.stdout + r.stderr;
    expect(out).toContain(`chmod 600 ${keyPath}`);
    expect(out).not.toContain('PRIVATE' + ' KEY');
  });
});

describe('claim private key permissions', () => {
  const claimConfig = async (name: string, mode: number): Promise<{ file: string; claimKeyPath: string }> => {
    const claimKeyPath = path.join(root, `${name}.key`);
    await fs.copyFile(pki.claim.keyPath, claimKeyPath);
    await fs.chmod(claimKeyPath, mode);
    const provisioning = { claimCertPath: pki.claim.certPath, claimKeyPath, templateName: 'cloudcam-fleet' };
    return { file: await configFile(name, { provisioning }), claimKeyPath };
  };

  it('a claim key readable by group or others is refused like the device key, with the chmod that fixes it', async () => {
    const { file, claimKeyPath } = await claimConfig('claim-loose', 0o644);
    const p = problems(file);
    expect(p).toHaveLength(1);
    expect(p[0]).toContain(`provisioning.claimKeyPath ${claimKeyPath} is accessible by group and others`);
    expect(p[0]).toContain(`Fix: chmod 600 ${claimKeyPath}`);
  });

  it('a claim key of mode 0600 is accepted', async () => {
    expect(problems((await claimConfig('claim-tight', 0o600)).file)).toEqual([]);
  });
});

describe('TLS verification and plaintext', () => {
  it('has no setting that turns verification off or allows plaintext MQTT', async () => {
    const p = problems(await configFile('switches', { iot: { rejectUnauthorized: false, insecure: true, plaintext: true } }));
    expect(p.some((l) => l.startsWith('iot.rejectUnauthorized: unknown key'))).toBe(true);
    expect(p.some((l) => l.startsWith('iot.insecure: unknown key'))).toBe(true);
    expect(p.some((l) => l.startsWith('iot.plaintext: unknown key'))).toBe(true);
  });

  it('refuses a broker whose certificate is not from iot.caPath, even with NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
    const rogue = await createCa('rogue CA');
    const serverPair = await issueCertificate(rogue, { commonName: '127.0.0.1', usage: 'server', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] });
    let bytesReceived = 0;
    const server = tls.createServer({ cert: serverPair.certPem, key: serverPair.keyPem }, (s) => s.on('data', (d: Buffer) => (bytesReceived += d.length)));
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const captured = captureLog();
    const before = process.env['NODE_TLS_REJECT_UNAUTHORIZED'];
    process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = '0';
    const conn = createConnection(testConfig({ caPath: pki.caCertPath, ...pki.devices[THING]! }, { thingName: THING, port }), {
      will: { topic: `cloudcam/${THING}/presence`, payload: 'offline', qos: 1, retain: false },
      log: captured.log,
    });
    let connected = false;
    conn.on('connected', () => (connected = true));
    try {
      conn.start();
      const line = await captured.waitFor((l) => typeof l.cause === 'string' && l.level >= LEVEL.warn);
      expect(line.cause).toBe('unknown-ca');
      expect(connected).toBe(false);
      expect(bytesReceived).toBe(0); // no MQTT CONNECT (and so no credentials or will) reached it
    } finally {
      if (before === undefined) delete process.env['NODE_TLS_REJECT_UNAUTHORIZED'];
      else process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = before;
      await conn.stop({ timeoutMs: 1000 });
      server.close();
    }
  });
});

describe('state dir permissions, re-checked at every start', () => {
  async function stateDir(name: string, mode: number, identityMode?: number): Promise<string> {
    const dir = path.join(root, `${name}.state`);
    await fs.mkdir(dir, { recursive: true });
    await fs.chmod(dir, mode);
    if (identityMode !== undefined) {
      await fs.mkdir(path.join(dir, 'identity'), { recursive: true });
      await fs.chmod(path.join(dir, 'identity'), identityMode);
    }
    return dir;
  }
  const modeOf = async (p: string): Promise<number> => (await fs.stat(p)).mode & 0o777;

  it('a dir only readable by others (0755, identity 0750) is tightened to 0700 and logged', async () => {
    const dir = await stateDir('readable', 0o755, 0o750);
    const captured = captureLog();
    await secureStateDirs(dir, captured.log);
    expect(await modeOf(dir)).toBe(0o700);
    expect(await modeOf(path.join(dir, 'identity'))).toBe(0o700);
    expect(captured.lines.filter((l) => l['event'] === 'state.permissions-tightened').map((l) => l['was'])).toEqual(['0755', '0750']);
  });

  it.each([
    [0o777, 0o700, 'group and others'],
    [0o700, 0o770, 'group'],
  ])('a dir writable by others (state %s, identity %s) is refused with the chmod that fixes it', async (mode, identityMode, who) => {
    const dir = await stateDir(`writable-${mode.toString(8)}-${identityMode.toString(8)}`, mode, identityMode);
    const err = await rejectionOf(secureStateDirs(dir, captureLog().log), StateDirError);
    expect(err.message).toContain(`writable by ${who}`);
    const command = /then: (chmod 700 .*)$/.exec(err.message)?.[1];
    expect(command).toBeDefined();
    expect(spawnSync('sh', ['-c', command!]).status).toBe(0);
    await secureStateDirs(dir, captureLog().log);
  });

  it('a dir owned by another user is refused', async () => {
    const dir = await stateDir('foreign', 0o700);
    await fs.chown(dir, 65534, 65534);
    const err = await rejectionOf(secureStateDirs(dir, captureLog().log), StateDirError);
    expect(err.message).toContain('belongs to uid 65534');
  });

  it('the agent process exits 1 before connecting and prints the fix', async () => {
    const file = await configFile('cli-state', { camera: { url: 'http://127.0.0.1:9', username: 'u', password: 'p' } });
    const dir = path.join(root, 'cli-state.state');
    await fs.mkdir(dir, { recursive: true });
    await fs.chmod(dir, 0o777);
    const r = spawnSync(process.execPath, [CLI, 'agent', '--config', file], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stdout + r.stderr).toContain(`chmod 700 ${dir}`);
  });
});

describe('upload allow-list', () => {
  const CAMERA = { url: 'http://127.0.0.1:9', username: 'u', password: 'p' };

  it('the agent process refuses to start with an empty allow-list and says what to list', async () => {
    const file = await configFile('no-allow-list', { camera: CAMERA, snapshot: { allowedUploadHosts: [] } });
    const r = spawnSync(process.execPath, [CLI, 'agent', '--config', file], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("snapshot.allowedUploadHosts is empty: list your deployment's bucket host");
    expect(r.stderr).toContain('UploadHost');
  });

  it.each(['*.amazonaws.com', '*.s3.eu-north-1.amazonaws.com', '*.compute.amazonaws.com', '*.execute-api.eu-north-1.amazonaws.com', '*.amazonaws.com.cn'])(
    'a wildcard over AWS shared domains (%s) is refused: it admits other accounts\' buckets, EC2 and API Gateway',
    async (entry) => {
      const p = problems(await configFile(`wild-${entry.replace(/[^a-z0-9]/g, '_')}`, { snapshot: { allowedUploadHosts: [entry] } }));
      expect(p).toHaveLength(1);
      expect(p[0]).toContain('matches hosts of every AWS account');
      expect(p[0]).toContain('{bucket}.s3.{region}.amazonaws.com');
    },
  );

  it('the own bucket host admits only that bucket, not other buckets, EC2 or API Gateway', async () => {
    const cfg = loadAgentConfig(await configFile('own-bucket'), {});
    const policy = { allowedHosts: cfg.snapshot.allowedUploadHosts, insecureHttpHosts: cfg.snapshot.insecureHttpUploadHosts };
    expect(checkUploadTarget(`https://${BUCKET_HOST}/`, policy).ok).toBe(true);
    for (const other of [
      'https://attacker-bucket.s3.eu-north-1.amazonaws.com/',
      'https://s3.eu-north-1.amazonaws.com/attacker-bucket',
      'https://ec2-52-1-2-3.eu-north-1.compute.amazonaws.com/',
      'https://abc123.execute-api.eu-north-1.amazonaws.com/prod',
      `https://${BUCKET_HOST}:8443/`,
    ]) {
      expect(checkUploadTarget(other, policy).ok, other).toBe(false);
    }
  });
});
