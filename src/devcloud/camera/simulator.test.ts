/**
 * The simulator seen by clients other than ours: node:http with a digest computed here by hand
 * from the RFC 7616 formulas, and curl --digest, so the server is not only tested by our own client.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSelfSignedServerCertificate } from '../pki.js';
import type { AuthOffer } from './http-auth.js';
import { RESOLUTIONS_4MP_16_9 } from './profiles.js';
import { startCameraSimulator, type CameraSimulator } from './simulator.js';
import { motionBand } from './motion.js';
import { regionDifference } from '../../../test/helpers/image-diff.js';

const exec = promisify(execFile);
const BOTH_ALGORITHMS: AuthOffer = { scheme: 'digest', algorithms: ['SHA-256', 'MD5'], opaque: true, algorithmParam: true, singleUseNonce: false };

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  /** One entry per header line: node:http joins repeated WWW-Authenticate lines into one string. */
  challenges: string[];
  body: Buffer;
}

function send(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          challenges: res.headersDistinct['www-authenticate'] ?? [],
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Independent digest: the RFC 7616 §3.4.1 formulas written out, not our digest module. */
function handDigest(wwwAuth: string, alg: 'MD5' | 'SHA-256', user: string, pass: string, method: string, uri: string): string {
  const hash = (s: string) => createHash(alg === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');
  const field = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(wwwAuth)?.[1] ?? '';
  const realm = field('realm');
  const nonce = field('nonce');
  const opaque = field('opaque');
  const cnonce = randomBytes(8).toString('hex');
  const nc = '00000001';
  const response = hash(`${hash(`${user}:${realm}:${pass}`)}:${nonce}:${nc}:${cnonce}:auth:${hash(`${method}:${uri}`)}`);
  return `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", algorithm=${alg}, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}", opaque="${opaque}"`;
}

let cam: CameraSimulator;

async function authed(method: string, path: string, alg: 'MD5' | 'SHA-256' = 'SHA-256', body?: string): Promise<Reply> {
  const first = await send(cam.url + path, { method, body });
  expect(first.status).toBe(401);
  const challenges = first.challenges;
  const challenge = challenges.find((c) => c.includes(`algorithm=${alg},`) || c.endsWith(`algorithm=${alg}`));
  expect(challenge).toBeDefined();
  const authorization = handDigest(challenge!, alg, cam.username, cam.password, method, path);
  const headers: Record<string, string> = { authorization };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return send(cam.url + path, { method, headers, body });
}

beforeAll(async () => {
  cam = await startCameraSimulator({
    name: 'gate-cam',
    username: 'operator',
    password: 'Circle of Life',
    identity: { serialNumber: 'B8A44F123456', model: 'AXIS M3106-L Mk II', prodNbr: 'M3106-L Mk II', firmware: '11.11.73', architecture: 'aarch64', soc: 'Axis Artpec-8' },
    // Both algorithms with opaque on both listeners: the general Digest server (profiles.test.ts covers each firmware's shape).
    auth: { http: BOTH_ALGORITHMS, https: BOTH_ALGORITHMS },
    resolutions: RESOLUTIONS_4MP_16_9,
  });
});

afterAll(async () => {
  await cam.stop();
});

describe('digest challenge', () => {
  it('answers 401 with SHA-256 then MD5 challenges, realm AXIS_<serial>', async () => {
    const r = await send(`${cam.url}/axis-cgi/jpg/image.cgi`);
    expect(r.status).toBe(401);
    const www = r.challenges;
    expect(www).toHaveLength(2);
    expect(www[0]).toMatch(/^Digest realm="AXIS_B8A44F123456", qop="auth", algorithm=SHA-256, nonce="[^"]+", opaque="[^"]+"$/);
    expect(www[1]).toMatch(/algorithm=MD5,/);
  });

  it('does not protect paths outside /axis-cgi (they do not exist)', async () => {
    const r = await send(`${cam.url}/index.html`);
    expect(r.status).toBe(404);
  });

  for (const alg of ['SHA-256', 'MD5'] as const) {
    it(`accepts a hand-computed ${alg} answer and serves a JPEG`, async () => {
      const r = await authed('GET', '/axis-cgi/jpg/image.cgi?resolution=320x180&compression=50', alg);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('image/jpeg');
      expect(Number(r.headers['content-length'])).toBe(r.body.length);
      const meta = await sharp(r.body).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 320, 180]);
    });
  }

  it('refuses an answer for another uri', async () => {
    const first = await send(`${cam.url}/axis-cgi/param.cgi?action=list`);
    const www = first.challenges[0]!;
    const authorization = handDigest(www, 'SHA-256', cam.username, cam.password, 'GET', '/axis-cgi/param.cgi?action=list&group=Brand');
    const r = await send(`${cam.url}/axis-cgi/param.cgi?action=list`, { headers: { authorization } });
    expect(r.status).toBe(401);
  });

  it('works with curl --digest', async () => {
    const { stdout } = await exec('curl', [
      '--silent',
      '--show-error',
      '--fail',
      '--digest',
      '--user',
      `${cam.username}:${cam.password}`,
      `${cam.url}/axis-cgi/param.cgi?action=list&group=Brand`,
    ]);
    expect(stdout).toContain('root.Brand.Brand=AXIS\n');
    expect(stdout).toContain('root.Brand.ProdShortName=AXIS M3106-L Mk II\n');
  });
});

describe('image.cgi', () => {
  it('draws a moving object while motion is active (fired State "1"), none after State "0"', async () => {
    const frame = async () => (await authed('GET', '/axis-cgi/jpg/image.cgi?resolution=320x180&compression=10')).body;
    const motion = (State: string) => cam.events.fire({ topic: 'tns1:VideoSource/MotionAlarm', at: new Date(), source: {}, data: { State } });
    const idle = await frame();
    motion('1');
    const moving = await frame();
    motion('0');
    const after = await frame();
    const band = motionBand(320, 180);
    expect(await regionDifference(idle, moving, band)).toBeGreaterThan(10);
    expect(await regionDifference(idle, after, band)).toBeLessThan(3); // noise and the frame counter only
  });

  it('refuses an unsupported resolution with a 400 naming it', async () => {
    const r = await authed('GET', '/axis-cgi/jpg/image.cgi?resolution=1000x1000');
    expect(r.status).toBe(400);
    expect(r.body.toString()).toMatch(/1000x1000.*not supported/);
  });

  it('refuses a compression outside 0..100', async () => {
    const r = await authed('GET', '/axis-cgi/jpg/image.cgi?resolution=160x90&compression=101');
    expect(r.status).toBe(400);
  });

  it('truncate fault: fewer bytes than Content-Length, then the connection closes', async () => {
    cam.setFaults({ truncate: true });
    try {
      const first = await send(`${cam.url}/axis-cgi/jpg/image.cgi?resolution=640x480`);
      const www = first.challenges[0]!;
      const path = '/axis-cgi/jpg/image.cgi?resolution=640x480';
      const authorization = handDigest(www, 'SHA-256', cam.username, cam.password, 'GET', path);
      const raw = await new Promise<Buffer>((resolve, reject) => {
        const sock = connect(cam.port, '127.0.0.1');
        const chunks: Buffer[] = [];
        sock.on('data', (c: Buffer) => chunks.push(c));
        sock.on('close', () => resolve(Buffer.concat(chunks)));
        sock.on('error', reject);
        sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\n\r\n`);
      });
      const split = raw.indexOf('\r\n\r\n');
      const head = raw.subarray(0, split).toString();
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      expect(length).toBeGreaterThan(1000);
      expect(raw.length - split - 4).toBeLessThan(length);
    } finally {
      cam.setFaults({});
    }
  });

  it('endless fault: streams until the client leaves, then stops writing', async () => {
    cam.setFaults({ endless: true });
    try {
      const first = await send(`${cam.url}/axis-cgi/jpg/image.cgi`);
      const www = first.challenges[0]!;
      const authorization = handDigest(www, 'SHA-256', cam.username, cam.password, 'GET', '/axis-cgi/jpg/image.cgi');
      const received = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${cam.url}/axis-cgi/jpg/image.cgi`, { headers: { authorization }, agent: false }, (res) => {
          if (res.statusCode !== 200 || res.headers['transfer-encoding'] !== 'chunked') {
            req.destroy();
            reject(new Error(`expected a chunked 200, got ${res.statusCode} ${String(res.headers['transfer-encoding'])}`));
            return;
          }
          expect(cam.stats.openStreams).toBe(1);
          let n = 0;
          res.on('data', (c: Buffer) => {
            n += c.length;
            if (n > 1_000_000) {
              req.destroy();
              resolve(n);
            }
          });
        });
        req.on('error', (e) => (req.destroyed ? undefined : reject(e)));
        req.end();
      });
      expect(received).toBeGreaterThan(1_000_000);
      // The writer stops once the server sees the socket close.
      const deadline = Date.now() + 2000;
      while (cam.stats.openStreams > 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      expect(cam.stats.openStreams).toBe(0);
    } finally {
      cam.setFaults({});
    }
  });
});

describe('basicdeviceinfo.cgi', () => {
  it('getAllProperties: {apiVersion, context, data.propertyList}', async () => {
    const r = await authed('POST', '/axis-cgi/basicdeviceinfo.cgi', 'MD5', JSON.stringify({ apiVersion: '1.0', context: 'c1', method: 'getAllProperties' }));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    const body = JSON.parse(r.body.toString()) as { apiVersion: string; context: string; data: { propertyList: Record<string, string> } };
    expect(body.context).toBe('c1');
    expect(body.data.propertyList).toMatchObject({
      Architecture: 'aarch64',
      Brand: 'AXIS',
      ProdNbr: 'M3106-L Mk II',
      ProdShortName: 'AXIS M3106-L Mk II',
      SerialNumber: 'B8A44F123456',
      Soc: 'Axis Artpec-8',
    });
  });

  it('getProperties returns only the requested ones', async () => {
    const r = await authed(
      'POST',
      '/axis-cgi/basicdeviceinfo.cgi',
      'SHA-256',
      JSON.stringify({ apiVersion: '1.0', method: 'getProperties', params: { propertyList: ['SerialNumber', 'Version'] } }),
    );
    const body = JSON.parse(r.body.toString()) as { data: { propertyList: Record<string, string> } };
    expect(Object.keys(body.data.propertyList).sort()).toEqual(['SerialNumber', 'Version']);
  });

  it('answers errors in the JSON body', async () => {
    const bad = await authed('POST', '/axis-cgi/basicdeviceinfo.cgi', 'SHA-256', '{not json');
    expect(JSON.parse(bad.body.toString())).toMatchObject({ error: { code: 4000 } });
    const unknown = await authed('POST', '/axis-cgi/basicdeviceinfo.cgi', 'SHA-256', JSON.stringify({ apiVersion: '1.0', method: 'reboot' }));
    expect(JSON.parse(unknown.body.toString())).toMatchObject({ error: { code: 2004 } });
  });
});

describe('param.cgi', () => {
  it('lists several groups, with an error line for a missing one', async () => {
    const r = await authed('GET', '/axis-cgi/param.cgi?action=list&group=Properties.System.SerialNumber,Nope,root.Time.SyncSource');
    expect(r.body.toString()).toBe(
      "root.Properties.System.SerialNumber=B8A44F123456\n# Error: Error -1 getting param in group 'Nope'\nroot.Time.SyncSource=NTP\n",
    );
  });

  it('update answers OK, or one error line per refused value', async () => {
    const ok = await authed('GET', '/axis-cgi/param.cgi?action=update&root.Time.NTP.Server=10.0.0.1');
    expect(ok.body.toString()).toBe('OK\n');
    const bad = await authed('GET', '/axis-cgi/param.cgi?action=update&Properties.System.Soc=x&Time.ObtainFromDHCP=perhaps');
    expect(bad.body.toString()).toBe(
      "# Error: Error setting 'root.Properties.System.Soc' to 'x'!\n# Error: Error setting 'root.Time.ObtainFromDHCP' to 'perhaps'!\n",
    );
    const list = await authed('GET', '/axis-cgi/param.cgi?action=list&group=Time.NTP');
    expect(list.body.toString()).toBe('root.Time.NTP.Server=10.0.0.1\nroot.Time.NTP.VolatileServer=0.0.0.0\n');
  });
});

describe('lifecycle', () => {
  it('counts requests and connections, and stop() ends open keep-alive connections', async () => {
    const other = await startCameraSimulator({ name: 'tmp', username: 'u', password: 'p', auth: { http: BOTH_ALGORITHMS, https: BOTH_ALGORITHMS } });
    const sock = connect(other.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET /axis-cgi/param.cgi HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => sock.once('data', r));
    expect(other.stats).toEqual({ requests: 1, snapshots: 0, connections: 1, openStreams: 0, proxied: 0 });
    const closed = new Promise((r) => sock.once('close', r));
    await other.stop();
    await closed;
    expect(sock.destroyed).toBe(true);
  });
});

describe('event stream upgrade (raw sockets)', () => {
  const upgrade = (target: string) =>
    `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

  async function firstLine(target: string): Promise<string> {
    const sock = connect(cam.port, '127.0.0.1');
    sock.write(upgrade(target));
    const data = await new Promise<Buffer>((resolve, reject) => {
      sock.once('data', resolve);
      sock.once('error', reject);
    });
    sock.destroy();
    return data.toString('latin1').split('\r\n')[0]!;
  }

  it('answers odd upgrade targets with 400 or 404 instead of throwing', async () => {
    expect(await firstLine('//')).toBe('HTTP/1.1 404 Not Found');
    expect(await firstLine('/\\')).toBe('HTTP/1.1 404 Not Found');
    expect(await firstLine('*')).toBe('HTTP/1.1 400 Bad Request');
    const still = await authed('POST', '/axis-cgi/basicdeviceinfo.cgi', 'SHA-256', JSON.stringify({ apiVersion: '1.0', method: 'getAllProperties' }));
    expect(still.status).toBe(200);
  });

  it('keeps serving when a refused client resets its connection (no uncaught ECONNRESET)', async () => {
    for (let i = 0; i < 20; i += 1) {
      const sock = connect(cam.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sock.write(upgrade('/vapix/ws-data-stream?sources=events'));
      await new Promise((r) => sock.once('data', r));
      sock.resetAndDestroy();
    }
    expect(await firstLine('/vapix/ws-data-stream?sources=events')).toBe('HTTP/1.1 401 Unauthorized');
  });
});

describe('camera simulator over HTTPS (curl as the client)', () => {
  it('serves HTTPS with its self-signed certificate and HTTP beside it; setCertificate changes what the next handshake presents', async () => {
    const first = await createSelfSignedServerCertificate({ commonName: 'B8A44F000001', ipAddresses: ['127.0.0.1'] });
    const second = await createSelfSignedServerCertificate({ commonName: 'B8A44F000001', ipAddresses: ['127.0.0.1'] });
    const cam = await startCameraSimulator({ name: 'tls-cam', username: 'root', password: 'pw', tls: first });
    const dir = await mkdtemp(path.join(tmpdir(), 'cloudcam-sim-tls-'));
    try {
      expect(cam.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(cam.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const firstPem = path.join(dir, 'first.pem');
      await writeFile(firstPem, first.certPem);
      const curl = (url: string, ...extra: string[]) => exec('curl', ['-sS', '--anyauth', '-u', 'root:pw', ...extra, `${url}/axis-cgi/param.cgi?action=list&group=Brand`]);
      expect((await curl(cam.url, '--cacert', firstPem)).stdout).toContain('Brand.ProdShortName=');
      expect((await curl(cam.httpUrl)).stdout).toContain('Brand.ProdShortName=');
      const before = cam.fingerprint256;
      cam.setCertificate(second);
      expect(cam.fingerprint256).toBe(new X509Certificate(second.certPem).fingerprint256);
      expect(cam.fingerprint256).not.toBe(before);
      await expect(curl(cam.url, '--cacert', firstPem)).rejects.toMatchObject({ code: 60 }); // curl: peer certificate cannot be authenticated
    } finally {
      await cam.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
