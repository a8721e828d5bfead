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
import { ConfigError, loadAgentConfig } from '../../src/agent/config.js';
import { createConnection } from '../../src/agent/connection.js';
import { createCa, ensurePki, issueCertificate, type DevPki } from '../../src/devcloud/pki.js';
import { LEVEL, captureLog, testConfig } from '../helpers/agent-connection-kit.js';

const THING = 'cam-sec-1';
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
  await fs.writeFile(file, JSON.stringify({ thingName: THING, stateDir: path.join(root, `${name}.state`), ...extra, iot }));
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
