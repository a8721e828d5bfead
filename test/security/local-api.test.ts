/**
 * The agent's local API under attack from the camera itself (docs/security.md, "A process on the
 * camera" and "A browser on the camera's LAN"): raw malformed requests and a fast-check fuzz of raw
 * bytes, cross-site content types and rebinding Host headers, a process of another uid, a squatter
 * on the port, and a certificate the broker does not trust (rolled back). The agent runs in-process
 * against devcloud's real broker; a client of another uid is a child spawned as nobody (65534).
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cameraAdd } from '../../src/cli/camera-command.js';
import { install } from '../../src/cli/install-command.js';
import { setupCertsCli } from '../../src/cli/setup-command.js';
import type { AgentStatus } from '../../src/agent/features/local-api.js';
import { createLocalApiFeature } from '../../src/agent/features/local-api.js';
import type { AgentConfig } from '../../src/agent/config/index.js';
import type { FeatureContext } from '../../src/agent/feature.js';
import type { CameraSimulator } from '../../src/devcloud/camera/simulator.js';
import { createCa, issueCertificate, loadCa, writeCertificate } from '../../src/devcloud/pki.js';
import { buildEap } from '../../src/protocol/eap.js';
import { startTestAgent, startTestDevcloud, waitForConnected, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';
import { addArgs, fieldIo } from '../helpers/field.js';

const TRIAL_MS = 3000;

/**
 * Sends raw bytes (without half-closing: Node's server drops a request whose client sent FIN) and
 * returns what came back until the agent closed the socket, 300 ms after an answer began (a
 * keep-alive reply), or after silenceMs without an answer (an incomplete request).
 */
function raw(port: number, bytes: string | Buffer, silenceMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    let timer = setTimeout(done, silenceMs);
    socket.on('data', (c: Buffer) => {
      if (chunks.length === 0) {
        clearTimeout(timer);
        timer = setTimeout(done, 300);
      }
      chunks.push(c);
    });
    socket.on('close', done);
    socket.on('error', done);
    socket.on('connect', () => socket.write(bytes));
  });
}

const statusLine = (reply: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1] ?? 0);

/** Runs a node script as nobody (uid/gid 65534) and returns its stdout. */
async function asNobody(script: string): Promise<string> {
  const child = spawn(process.execPath, ['-e', script], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  await once(child, 'close');
  return out;
}

describe('the agent local API cannot be crashed or made to take another identity', () => {
  let tdc: TestDevcloud;
  let agent: TestAgent;
  let home: string;
  let port: number;
  let stateDir: string;
  let caPem: string;

  const status = async (): Promise<AgentStatus> => JSON.parse((await raw(port, 'GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')).split('\r\n\r\n')[1] ?? '') as AgentStatus;
  const post = (body: string, headers: Record<string, string>): Promise<string> =>
    raw(port, `POST /certs HTTP/1.1\r\n${Object.entries({ 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`);
  /** The running agent's feature context with other local API settings, for a second API beside it. */
  const contextWith = (localApi: Pick<AgentConfig['localApi'], 'port' | 'allowedPeerUids'>): FeatureContext => {
    const c = agent.agent.context;
    return { ...c, config: { ...c.config, localApi: { ...c.config.localApi, ...localApi } } };
  };

  beforeAll(async () => {
    tdc = await startTestDevcloud({ broker: 'aedes' });
    home = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-localapi-'));
    stateDir = path.join(home, 'state');
    caPem = await readFile(tdc.dc.info.caPath, 'utf8');
    agent = await startTestAgent(tdc.dc, 'camera-1', (c) => {
      c.stateDir = stateDir;
      c.localApi.identityTrialMs = TRIAL_MS;
    });
    await waitForConnected(agent);
    port = Number(new URL(agent.agent.localApiUrl()!).port);
  });
  afterAll(async () => {
    await agent.stop();
    await tdc.cleanup();
    await rm(home, { recursive: true, force: true });
  });

  it('answers GET // and GET /\\ with 400 and keeps serving', async () => {
    for (const target of ['//', '/\\', '//x/..', '*', 'http://evil/status']) {
      expect(statusLine(await raw(port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`))).toBe(400);
    }
    expect((await status()).thingName).toBe('camera-1');
  });

  it('fast-check: random request lines, targets, headers and bytes never crash it', async () => {
    // Targets from the characters that break URL parsing (//, /\, bad percent escapes, ..), no whitespace.
    const target = fc
      .tuple(
        // A dictionary of prefixes that URL parsers treat specially (scheme-relative, backslash-as-slash).
        fc.constantFrom('/', '//', '/\\', '\\', '\\\\', '\\/', ''),
        fc.array(fc.constantFrom('/', '\\', '%', '%E0%A4%A', '%00', 'a', '..', '?', '#', ':', '@', '~', '\u00e9', 'status', 'certs'), { maxLength: 6 }),
      )
      .map(([first, rest]) => first + rest.join(''));
    const text = fc.string({ unit: fc.constantFrom(...'/\\%?#.:@ aA0~\t\r\n\u00e9\u0000'.split('')), maxLength: 24 });
    const wellFormed = fc.oneof(
      // A valid request line and headers around a hostile target: the listener's own parsing.
      fc.tuple(fc.constantFrom('GET', 'POST', 'DELETE'), target).map(([m, t]) => `${m} ${t} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n`),
      fc.tuple(fc.constantFrom('GET', 'GET', 'POST', 'PUT', 'X', ''), target, fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/9', ''), fc.oneof(fc.constantFrom('X-Test', 'Accept', 'Content-Type'), text), text).map(
        ([m, t, v, hk, hv]) => `${m} ${t} ${v}\r\nHost: localhost\r\n${hk}: ${hv}\r\nContent-Length: 3\r\n\r\nabc`,
      ),
      fc.tuple(fc.constantFrom('/certs', '/challenge'), fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8'), fc.jsonValue()).map(([p, type, v]) => {
        const body = JSON.stringify(v) ?? '';
        return `POST ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(wellFormed.map((r) => ({ r, complete: true })), fc.uint8Array({ maxLength: 200 }).map((b) => ({ r: Buffer.from(b).toString('latin1'), complete: false }))), async ({ r, complete }) => {
        const reply = await raw(port, Buffer.from(r, 'latin1'), complete ? 2000 : 300);
        // A complete request always gets an answer, never a 5xx; random bytes may get none (incomplete).
        if (complete || reply !== '') expect(statusLine(reply)).toBeGreaterThanOrEqual(200);
        if (reply !== '') expect(statusLine(reply)).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
    expect((await status()).connected).toBe(true);
  }, 90_000);

  it('refuses a cross-site form body (text/plain) with 415 and a rebinding Host with 421, writing nothing', async () => {
    const body = JSON.stringify({ certificatePem: 'x', privateKey: 'y', caPem: 'z' });
    expect(statusLine(await post(body, { Host: 'localhost:2001', 'Content-Type': 'text/plain' }))).toBe(415);
    expect(statusLine(await post(body, { Host: 'localhost:2001', 'Content-Type': 'application/x-www-form-urlencoded' }))).toBe(415);
    expect(statusLine(await post(body, { Host: 'attacker.example:2001', 'Content-Type': 'application/json' }))).toBe(421);
    expect(statusLine(await post(body, { Host: 'localhost', 'Content-Type': 'application/json' }))).toBe(400);
    expect(await readFile(path.join(stateDir, 'identity.json'), 'utf8').catch(() => 'none')).toBe('none');
  });

  it('a process of another uid (nobody) can neither install a certificate nor crash the agent', async () => {
    const ca = await loadCa(tdc.dc.pki);
    const cert = await issueCertificate(ca, { commonName: 'camera-1', usage: 'client' });
    const body = JSON.stringify({ certificatePem: cert.certPem, privateKey: cert.keyPem, caPem });
    const out = await asNobody(`
      const net = require('node:net');
      const send = (bytes) => new Promise((resolve) => {
        const s = net.connect(${port}, '127.0.0.1'); let r = '';
        s.on('data', (c) => (r += c)); s.on('close', () => resolve(r.slice(0, 12))); s.on('error', () => resolve('error'));
        s.on('connect', () => s.write(bytes));
      });
      (async () => {
        const body = ${JSON.stringify(body)};
        console.log(await send('POST /certs HTTP/1.1\\r\\nHost: localhost\\r\\nContent-Type: application/json\\r\\nContent-Length: ' + Buffer.byteLength(body) + '\\r\\n\\r\\n' + body));
        console.log(await send('GET // HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n'));
      })();
    `);
    expect(out.split('\n').filter(Boolean)).toEqual(['HTTP/1.1 403', 'HTTP/1.1 403']);
    await agent.waitForLog((l) => l['event'] === 'local-api.peer-refused' && l['uid'] === 65534);
    expect(await readFile(path.join(stateDir, 'identity.json'), 'utf8').catch(() => 'none')).toBe('none');
    expect((await status()).connected).toBe(true);
  });

  it('rolls back a certificate the broker does not trust within the bound; the agent reconnects with the old one', async () => {
    const before = await status();
    const foreign = await createCa('not the broker CA');
    const cert = await issueCertificate(foreign, { commonName: 'camera-1', usage: 'client' });
    const body = JSON.stringify({ certificatePem: cert.certPem, privateKey: cert.keyPem, caPem: foreign.certPem });
    const reply = await post(body, { Host: 'localhost', 'Content-Type': 'application/json' });
    expect(statusLine(reply)).toBe(200);
    // The request's CA is not trusted for the broker, and not stored.
    expect(agent.agent.connection.tlsFiles.caPath).toBe(tdc.dc.info.caPath);
    await expect(readFile(path.join(stateDir, 'identity', 'ca.pem'))).rejects.toThrow();
    expect((await status()).identity.state).toBe('trial');
    const started = Date.now();
    await agent.waitForLog((l) => l['event'] === 'certs.rolled-back', TRIAL_MS + 5000);
    expect(Date.now() - started).toBeLessThan(TRIAL_MS + 2000);
    await new Promise<void>((resolve) => (agent.agent.connection.connected ? resolve() : agent.agent.connection.once('connected', () => resolve())));
    const after = await status();
    expect(after.connected).toBe(true);
    expect(after.certificate?.fingerprint256).toBe(before.certificate?.fingerprint256);
    expect(after.identity).toMatchObject({ state: 'rolled-back', certificateId: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown, reason: expect.stringContaining('not connected within 3 s') as unknown });
    // A restart uses the restored identity too: no installed mark is left behind.
    expect(await readFile(path.join(stateDir, 'identity.json'), 'utf8').catch(() => 'none')).toBe('none');
  });

  it('keeps retrying a taken port (error log with the fix) and listens once it is free', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as AddressInfo).port;
    const api = createLocalApiFeature(contextWith({ port: taken, allowedPeerUids: [] }), {
      trial: { status: () => ({ state: 'configured', since: '' }), begin: () => undefined, stop: () => undefined },
      bindRetry: { minMs: 50, maxMs: 200 },
    });
    try {
      await api.start();
      expect(api.url()).toBeUndefined();
      const line = await agent.waitForLog((l) => l['event'] === 'local-api.failed' && l['port'] === taken);
      expect(line['level']).toBe(50);
      expect(String(line['msg'])).toContain('another process holds');
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
      await agent.waitForLog((l) => l['event'] === 'local-api.listening' && l['url'] === `http://127.0.0.1:${taken}`);
      expect(api.url()).toBe(`http://127.0.0.1:${taken}`);
    } finally {
      await api.stop();
      squatter.close();
    }
  });

  it('a handler that throws is logged with the feature name and answered 500; the next request is served', async () => {
    let fail = true;
    const api = createLocalApiFeature(contextWith({ port: 0, allowedPeerUids: [] }), {
      trial: {
        status: () => {
          if (fail) throw new Error('boom');
          return { state: 'configured', since: '' };
        },
        begin: () => undefined,
        stop: () => undefined,
      },
    });
    await api.start();
    try {
      const apiPort = Number(new URL(api.url()!).port);
      const get = 'GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
      expect(statusLine(await raw(apiPort, get))).toBe(500);
      const line = await agent.waitForLog((l) => l['event'] === 'local-api.request-failed');
      expect(line).toMatchObject({ feature: 'local-api', err: 'boom', level: 50 });
      fail = false;
      expect(statusLine(await raw(apiPort, get))).toBe(200);
    } finally {
      await api.stop();
    }
  });

  it('a uid added to localApi.allowedPeerUids is let in', async () => {
    const api = createLocalApiFeature(contextWith({ port: 0, allowedPeerUids: [65534] }), {
      trial: { status: () => ({ state: 'configured', since: '' }), begin: () => undefined, stop: () => undefined },
    });
    await api.start();
    try {
      const apiPort = new URL(api.url()!).port;
      const out = await asNobody(`
        const s = require('node:net').connect(${apiPort}, '127.0.0.1'); let r = '';
        s.on('data', (c) => (r += c)); s.on('close', () => console.log(r.slice(0, 12)));
        s.on('connect', () => s.write('GET /status HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n'));
      `);
      expect(out.trim()).toBe('HTTP/1.1 200');
    } finally {
      await api.stop();
    }
  });

  it('the status names the last disconnect reason: main passes the connection loss to every feature (onDisconnected)', async () => {
    const before = await status();
    expect(before.lastDisconnectReason).not.toBe('keepalive timeout (test)');
    // The connection's own event, as mqtt.js would raise it: main owns the subscription.
    agent.agent.connection.emit('disconnected', { reason: 'keepalive timeout (test)' });
    const after = await status();
    expect(after.lastDisconnectReason).toBe('keepalive timeout (test)');
    expect(Date.parse(after.since)).toBeGreaterThanOrEqual(Date.parse(before.since));
  });

  it('a restart during the trial starts the bound again, and still rolls back', async () => {
    const before = await status();
    await agent.stop();
    agent = await startTestAgent(tdc.dc, 'camera-1', (c) => {
      c.stateDir = stateDir;
      c.localApi.identityTrialMs = 600_000;
    });
    await waitForConnected(agent);
    port = Number(new URL(agent.agent.localApiUrl()!).port);
    const foreign = await createCa('not the broker CA either');
    const cert = await issueCertificate(foreign, { commonName: 'camera-1', usage: 'client' });
    expect(statusLine(await post(JSON.stringify({ certificatePem: cert.certPem, privateKey: cert.keyPem, caPem: foreign.certPem }), { Host: 'localhost', 'Content-Type': 'application/json' }))).toBe(200);
    await agent.stop();
    agent = await startTestAgent(tdc.dc, 'camera-1', (c) => {
      c.stateDir = stateDir;
      c.localApi.identityTrialMs = TRIAL_MS;
    });
    port = Number(new URL(agent.agent.localApiUrl()!).port);
    await agent.waitForLog((l) => l['event'] === 'certs.using-installed');
    expect((await status()).identity.state).toBe('trial');
    await agent.waitForLog((l) => l['event'] === 'certs.rolled-back', TRIAL_MS + 5000);
    await waitForConnected(agent);
    expect((await status()).certificate?.fingerprint256).toBe(before.certificate?.fingerprint256);
  });
});

describe('cloudcam setup certs sends nothing to a squatter on the agent port', () => {
  let tdc: TestDevcloud;
  let home: string;
  let camera: CameraSimulator;
  let squatter: Server;
  const received: Record<string, number> = {};

  beforeAll(async () => {
    tdc = await startTestDevcloud({ broker: 'aedes' });
    camera = tdc.dc.cameras.get('camera-1')!;
    home = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-squat-'));
    await cameraAdd(addArgs(camera), fieldIo(home, camera.password));
    await writeFile(path.join(home, 'cloudcam.eap'), buildEap({ appName: 'cloudcam', version: '0.1.0', architecture: camera.identity.architecture, apiPath: 'api' }));
    expect(await install([path.join(home, 'cloudcam.eap')], fieldIo(home))).toBe(0);
    // The squatter knows the real device certificate (it is public) and fakes /status, but holds no key.
    const deviceCert = await readFile(tdc.dc.info.devices['camera-1']!.certPath, 'utf8');
    squatter = createServer((req, res) => {
      req.on('data', (c: Buffer) => (received[req.url ?? ''] = (received[req.url ?? ''] ?? 0) + c.length));
      req.on('end', () => {
        const body =
          req.url === '/challenge'
            ? { thingName: 'camera-1', certificatePem: deviceCert, algorithm: 'sha256', signature: Buffer.alloc(64, 1).toString('base64') }
            : { thingName: 'camera-1', connected: true, certificate: { fingerprint256: new X509Certificate(deviceCert).fingerprint256 } };
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    camera.setAppTarget('cloudcam', `http://127.0.0.1:${(squatter.address() as AddressInfo).port}`);
  });
  afterAll(async () => {
    squatter.close();
    await tdc.cleanup();
    await rm(home, { recursive: true, force: true });
  });

  it('refuses, and the squatter receives not one byte of the key', async () => {
    const ca = await loadCa(tdc.dc.pki);
    const w = await writeCertificate(path.join(home, 'new'), 'device', await issueCertificate(ca, { commonName: 'camera-1', usage: 'client' }));
    const io = fieldIo(home);
    expect(await setupCertsCli(['--cert', w.certPath, '--key', w.keyPath, '--ca', tdc.dc.info.caPath], io)).toBe(1);
    expect(io.stdout()).toContain('did not prove it is the agent, so nothing was sent');
    expect(io.stdout()).toContain('the signature does not verify');
    expect(received['/challenge']).toBeGreaterThan(0);
    expect(received['/certs'] ?? 0).toBe(0);
  });

  it('reports a roll-back: a certificate the broker does not trust is replaced by the previous one', async () => {
    const agent = await startTestAgent(tdc.dc, 'camera-1', (c) => {
      c.stateDir = path.join(home, 'state');
      c.localApi.identityTrialMs = TRIAL_MS;
    });
    try {
      await waitForConnected(agent);
      camera.setAppTarget('cloudcam', agent.agent.localApiUrl());
      const foreign = await createCa('a CA the broker does not trust');
      const w = await writeCertificate(path.join(home, 'foreign'), 'device', await issueCertificate(foreign, { commonName: 'camera-1', usage: 'client' }));
      // --ca: the new certificate's issuer and the current one's (for the proof).
      const caFile = path.join(home, 'both-cas.pem');
      await writeFile(caFile, foreign.certPem + (await readFile(tdc.dc.info.caPath, 'utf8')));
      const io = fieldIo(home);
      expect(await setupCertsCli(['--cert', w.certPath, '--key', w.keyPath, '--ca', caFile, '--wait', '30'], io)).toBe(1);
      expect(io.stdout()).toContain('✓ the agent of camera-1 proved it holds its current device key');
      expect(io.stdout()).toMatch(/✗ agent not connected with the new certificate after 30 s \(rolled back to the previous certificate: not connected within 3 s/);
      await waitForConnected(agent);
    } finally {
      await agent.stop();
    }
  });
});
