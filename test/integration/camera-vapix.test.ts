/**
 * The agent's VAPIX client against the camera simulator, over real sockets: snapshots, device
 * information, parameters, and every fault the simulator can inject.
 */
import sharp from 'sharp';
import { Agent } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CAMERA_PROFILE_NAMES, CAMERA_PROFILES } from '../../src/devcloud/camera/profiles.js';
import { startCameraSimulator, type CameraSimulator } from '../../src/devcloud/camera/simulator.js';
import { VapixClient } from '../../src/protocol/vapix/client.js';
import { VapixError, type VapixErrorKind } from '../../src/protocol/vapix/errors.js';
import { rejectionOf } from '../helpers/rejection.js';

let cam: CameraSimulator;
let agent: Agent;

function client(over: Partial<{ password: string; timeoutMs: number }> = {}): VapixClient {
  return new VapixClient({
    baseUrl: cam.url,
    username: cam.username,
    password: over.password ?? cam.password,
    timeoutMs: over.timeoutMs ?? 5000,
    agent,
  });
}

const failure = (p: Promise<unknown>): Promise<VapixError> => rejectionOf(p, VapixError);

/** The simulator stops writing an endless reply only when our client has hung up. */
async function streamsClosed(): Promise<void> {
  const deadline = Date.now() + 2000;
  while (cam.stats.openStreams > 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  expect(cam.stats.openStreams).toBe(0);
}

async function expectKind(p: Promise<unknown>, kind: VapixErrorKind, withinMs: number): Promise<VapixError> {
  const t0 = performance.now();
  const err = await failure(p);
  const ms = performance.now() - t0;
  expect(err.kind, err.message).toBe(kind);
  expect(ms).toBeLessThan(withinMs);
  return err;
}

beforeAll(async () => {
  cam = await startCameraSimulator({ name: 'lobby-cam', username: 'cloudcam', password: 's3cret pass' });
  agent = new Agent({ keepAlive: true, maxSockets: 8 });
});

afterAll(async () => {
  agent.destroy();
  await cam.stop();
});

afterEach(() => {
  cam.setFaults({});
});

describe('captureJpeg', () => {
  it('returns a valid JPEG of the requested resolution', async () => {
    const { jpeg, ms } = await client().captureJpeg({ resolution: '640x360', compression: 30, maxBytes: 2_000_000 });
    const meta = await sharp(jpeg).metadata();
    expect(meta.format).toBe('jpeg');
    expect([meta.width, meta.height]).toEqual([640, 360]);
    expect(ms).toBeGreaterThanOrEqual(0);
  });

  it('defaults to the camera resolution 1920x1080', async () => {
    const { jpeg } = await client().captureJpeg({ maxBytes: 5_000_000 });
    const meta = await sharp(jpeg).metadata();
    expect([meta.width, meta.height]).toEqual([1920, 1080]);
  });

  it('gives different images on two captures', async () => {
    const c = client();
    const a = await c.captureJpeg({ resolution: '320x240', maxBytes: 1_000_000 });
    const b = await c.captureJpeg({ resolution: '320x240', maxBytes: 1_000_000 });
    expect(a.jpeg.equals(b.jpeg)).toBe(false);
    // The pixels differ, not only the bytes.
    const [pa, pb] = await Promise.all([sharp(a.jpeg).raw().toBuffer(), sharp(b.jpeg).raw().toBuffer()]);
    expect(pa.equals(pb)).toBe(false);
  });

  it('gives fewer bytes at higher compression', async () => {
    const c = client();
    const low = await c.captureJpeg({ resolution: '800x600', compression: 10, maxBytes: 5_000_000 });
    const high = await c.captureJpeg({ resolution: '800x600', compression: 80, maxBytes: 5_000_000 });
    expect(high.jpeg.length).toBeLessThan(low.jpeg.length * 0.6);
  });

  it('reuses the digest session: one 401 for several calls', async () => {
    const c = client();
    const before = cam.stats.requests;
    await c.captureJpeg({ resolution: '160x90', maxBytes: 200_000 });
    await c.captureJpeg({ resolution: '160x90', maxBytes: 200_000 });
    await c.listParams('Time');
    expect(cam.stats.requests - before).toBe(4); // 401 + 3 authenticated requests
  });

  it("reports the camera's refusal of an unsupported resolution", async () => {
    const err = await expectKind(client().captureJpeg({ resolution: '123x45', maxBytes: 100_000 }), 'http', 3000);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/123x45/);
  });

  it("fails with 'too-large' when the image exceeds maxBytes", async () => {
    const err = await expectKind(client().captureJpeg({ resolution: '1920x1080', maxBytes: 10_000 }), 'too-large', 3000);
    expect(err.message).toMatch(/10000-byte limit/);
  });

  it("fails with 'auth' on a wrong password, naming the settings to check", async () => {
    const err = await expectKind(
      client({ password: 'wrong' }).captureJpeg({ resolution: '160x90', maxBytes: 100_000 }),
      'auth',
      3000,
    );
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/camera\.username and camera\.password/);
    expect(err.message).toMatch(/operator/);
    expect(err.message).not.toMatch(/wrong/);
  });

  it('checks its arguments before calling the camera', async () => {
    await expect(client().captureJpeg({ resolution: '1920*1080', maxBytes: 1 })).rejects.toThrow(/WIDTHxHEIGHT/);
    await expect(client().captureJpeg({ compression: 101, maxBytes: 1 })).rejects.toThrow(/0\.\.100/);
    await expect(client().captureJpeg({ maxBytes: 0 })).rejects.toThrow(/maxBytes/);
  });
});

describe('faults', () => {
  it("status 401 with good credentials -> 'auth'", async () => {
    cam.setFaults({ status: 401 });
    await expectKind(client().captureJpeg({ maxBytes: 1_000_000 }), 'auth', 3000);
  });

  it("status 503 -> 'http' 503", async () => {
    cam.setFaults({ status: 503 });
    const err = await expectKind(client().captureJpeg({ maxBytes: 1_000_000 }), 'http', 3000);
    expect(err.status).toBe(503);
    expect(err.message).toMatch(/try again later/);
  });

  it("a delay longer than timeoutMs -> 'timeout' at about timeoutMs", async () => {
    cam.setFaults({ delayMs: 5000 });
    const err = await expectKind(client({ timeoutMs: 300 }).captureJpeg({ maxBytes: 1_000_000 }), 'timeout', 1500);
    expect(err.message).toMatch(/300 ms/);
  });

  it("a caller's abort ends the call early", async () => {
    cam.setFaults({ delayMs: 5000 });
    const ac = new AbortController();
    const p = client().captureJpeg({ maxBytes: 1_000_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const err = await expectKind(p, 'timeout', 1500);
    expect(err.message).toMatch(/cancelled/);
  });

  it("a body shorter than its Content-Length -> 'truncated'", async () => {
    cam.setFaults({ truncate: true });
    const err = await expectKind(client().captureJpeg({ resolution: '640x480', maxBytes: 5_000_000 }), 'truncated', 3000);
    expect(err.message).toMatch(/broke off|ended/);
  });

  it("an endless body -> 'too-large' as soon as maxBytes is passed", async () => {
    cam.setFaults({ endless: true });
    await expectKind(client({ timeoutMs: 10_000 }).captureJpeg({ maxBytes: 300_000 }), 'too-large', 3000);
    await streamsClosed();
  });

  it("an endless body with a large maxBytes -> 'timeout', never a hang", async () => {
    cam.setFaults({ endless: true });
    await expectKind(client({ timeoutMs: 400 }).captureJpeg({ maxBytes: 1_000_000_000 }), 'timeout', 2000);
    await streamsClosed();
  });

  it('recovers once the faults are cleared', async () => {
    cam.setFaults({ status: 503 });
    const c = client();
    await expectKind(c.captureJpeg({ maxBytes: 1_000_000 }), 'http', 3000);
    cam.setFaults({});
    const { jpeg } = await c.captureJpeg({ resolution: '160x120', maxBytes: 1_000_000 });
    expect(jpeg[0]).toBe(0xff);
  });
});

describe('basicDeviceInfo', () => {
  it("returns the camera's identity", async () => {
    const info = await client().basicDeviceInfo();
    expect(info).toMatchObject({
      SerialNumber: cam.identity.serialNumber,
      ProdNbr: cam.identity.prodNbr,
      ProdShortName: cam.identity.model,
      Architecture: cam.identity.architecture,
      Soc: cam.identity.soc,
      Version: cam.identity.firmware,
      Brand: 'AXIS',
    });
  });

  it("fails with 'auth' on a wrong password", async () => {
    await expectKind(client({ password: 'nope' }).basicDeviceInfo(), 'auth', 3000);
  });
});

describe('listParams / updateParams', () => {
  it('lists a group without the root. prefix', async () => {
    const p = await client().listParams('root.Properties.System');
    expect(p).toEqual({
      'Properties.System.Architecture': cam.identity.architecture,
      'Properties.System.SerialNumber': cam.identity.serialNumber,
      'Properties.System.Soc': cam.identity.soc,
    });
  });

  it('round-trips an update', async () => {
    const c = client();
    await c.updateParams({ 'Time.NTP.Server': 'pool.ntp.org time.example.com', 'Time.ObtainFromDHCP': 'no' });
    const time = await c.listParams('Time');
    expect(time['Time.NTP.Server']).toBe('pool.ntp.org time.example.com');
    expect(time['Time.ObtainFromDHCP']).toBe('no');
  });

  it("turns the camera's '# Error' replies into VapixError", async () => {
    const c = client();
    const e1 = await failure(c.listParams('No.Such.Group'));
    expect(e1.kind).toBe('http');
    expect(e1.message).toMatch(/Error -1 getting param in group 'No\.Such\.Group'/);
    const e2 = await failure(c.updateParams({ 'Brand.ProdNbr': 'X' }));
    expect(e2.message).toMatch(/Error setting 'root\.Brand\.ProdNbr' to 'X'!/);
    const e3 = await failure(c.updateParams({ 'Time.ObtainFromDHCP': 'maybe' }));
    expect(e3.message).toMatch(/Time\.ObtainFromDHCP/);
    expect((await c.listParams('Time.ObtainFromDHCP'))['Time.ObtainFromDHCP']).not.toBe('maybe');
  });

  it('rejects bad parameter names before calling the camera', async () => {
    const before = cam.stats.requests;
    await expect(client().updateParams({})).rejects.toThrow(/at least one/);
    await expect(client().updateParams({ 'a&b': '1' })).rejects.toThrow(/not a parameter name/);
    expect(cam.stats.requests).toBe(before);
  });
});

describe('network', () => {
  it("a closed port -> 'network'", async () => {
    const dead = await startCameraSimulator({ name: 'gone', username: 'u', password: 'p' });
    const url = dead.url;
    await dead.stop();
    const c = new VapixClient({ baseUrl: url, username: 'u', password: 'p', timeoutMs: 2000, agent });
    const err = await expectKind(c.basicDeviceInfo(), 'network', 2500);
    expect(err.message).toMatch(/camera\.url/);
  });
});

describe('the agent snapshot on every firmware profile (src/devcloud/camera/profiles.ts)', () => {
  for (const profile of CAMERA_PROFILE_NAMES) {
    it(`${profile}: JPEGs at a resolution of its list, repeated calls (nonce reuse or stale=true), device info`, async () => {
      const sim = await startCameraSimulator({ name: `snap-${profile}`, username: 'cloudcam', password: 's3cret pass', profile });
      const keepAlive = new Agent({ keepAlive: true });
      try {
        const c = new VapixClient({ baseUrl: sim.url, username: 'cloudcam', password: 's3cret pass', timeoutMs: 5000, agent: keepAlive });
        const resolutions = CAMERA_PROFILES[profile].resolutions ?? [];
        expect(resolutions).toContain('640x480');
        for (let i = 0; i < 3; i++) {
          const { jpeg } = await c.captureJpeg({ resolution: '640x480', maxBytes: 2_000_000 });
          expect(await sharp(jpeg).metadata()).toMatchObject({ width: 640, height: 480, format: 'jpeg' });
        }
        expect(sim.stats.snapshots).toBe(3);
        expect((await c.basicDeviceInfo())['Version']).toBe(CAMERA_PROFILES[profile].identity?.firmware);
        // A resolution the model does not list is the camera's 400, named.
        const missing = ['2688x1512', '2592x1944'].find((r) => !resolutions.includes(r))!;
        expect((await failure(c.captureJpeg({ resolution: missing, maxBytes: 2_000_000 }))).status).toBe(400);
      } finally {
        keepAlive.destroy();
        await sim.stop();
      }
    });
  }
});
