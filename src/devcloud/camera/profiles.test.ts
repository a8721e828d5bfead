/**
 * Each firmware profile answers the way issue 19 reports real AXIS OS versions do, seen by curl
 * (`--anyauth`, as developer.axis.com/vapix/authentication's examples call it) and by cloudcam's
 * client: AXIS OS 12 asks for Basic over HTTPS and for one MD5 Digest challenge (no algorithm, no
 * opaque) over HTTP; AXIS OS 11 sends MD5 without opaque and calls a reused nonce stale; AXIS OS 10
 * names the algorithm and sends opaque.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cameraCertificate } from '../../../test/helpers/field.js';
import { pinnedAgent } from '../../protocol/camera-tls.js';
import { describeAuthScheme } from '../../protocol/vapix/auth.js';
import { VapixClient } from '../../protocol/vapix/client.js';
import { CAMERA_PROFILE_NAMES, CAMERA_PROFILES, type CameraProfileName } from './profiles.js';
import { startCameraSimulator, type CameraSimulator } from './simulator.js';

const exec = promisify(execFile);

/** The WWW-Authenticate lines of an unauthenticated request, one per header line. */
function challenges(url: string, ca?: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(`${url}/axis-cgi/param.cgi?action=list&group=Brand`, { agent: false, ...(ca ? { ca } : {}) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headersDistinct['www-authenticate'] ?? []));
    });
    req.on('error', reject);
    req.end();
  });
}

const cams = new Map<CameraProfileName, CameraSimulator>();
let tls: { certPem: string; keyPem: string };
let dir: string;
let caFile: string;

beforeAll(async () => {
  tls = await cameraCertificate();
  dir = await mkdtemp(path.join(tmpdir(), 'cloudcam-profiles-'));
  caFile = path.join(dir, 'camera.pem');
  await writeFile(caFile, tls.certPem);
  for (const profile of CAMERA_PROFILE_NAMES) {
    cams.set(profile, await startCameraSimulator({ name: `cam-${profile}`, username: 'root', password: 'pass word', profile, tls }));
  }
});

afterAll(async () => {
  for (const cam of cams.values()) await cam.stop();
  await rm(dir, { recursive: true, force: true });
});

const cam = (p: CameraProfileName): CameraSimulator => cams.get(p)!;
const realm = (p: CameraProfileName): string => `AXIS_${cam(p).identity.serialNumber}`;

describe('challenges per firmware', () => {
  it('axis-os-12: HTTPS asks for Basic only; HTTP for one MD5 Digest without algorithm or opaque', async () => {
    expect(await challenges(cam('axis-os-12').url, tls.certPem)).toEqual([`Basic realm="${realm('axis-os-12')}"`]);
    const http = await challenges(cam('axis-os-12').httpUrl);
    expect(http).toHaveLength(1);
    expect(http[0]).toMatch(new RegExp(`^Digest realm="${realm('axis-os-12')}", qop="auth", nonce="[^"]+"$`));
  });

  it('axis-os-11: one MD5 Digest without opaque on both listeners', async () => {
    for (const url of [cam('axis-os-11').url, cam('axis-os-11').httpUrl]) {
      const www = await challenges(url, tls.certPem);
      expect(www).toHaveLength(1);
      expect(www[0]).toMatch(/^Digest realm="AXIS_[0-9A-F]+", qop="auth", nonce="[^"]+"$/);
    }
  });

  it('axis-os-10: Digest naming algorithm=MD5, with opaque', async () => {
    const www = await challenges(cam('axis-os-10').httpUrl);
    expect(www).toHaveLength(1);
    expect(www[0]).toMatch(/^Digest realm="AXIS_[0-9A-F]+", qop="auth", algorithm=MD5, nonce="[^"]+", opaque="[^"]+"$/);
  });
});

describe('every profile serves curl --anyauth and cloudcam on both listeners', () => {
  for (const profile of CAMERA_PROFILE_NAMES) {
    it(profile, async () => {
      const c = cam(profile);
      for (const url of [c.url, c.httpUrl]) {
        const { stdout } = await exec('curl', ['-sS', '--anyauth', '-u', 'root:pass word', '--cacert', caFile, `${url}/axis-cgi/param.cgi?action=list&group=Properties.Image.Resolution`]);
        expect(stdout.trim()).toBe(`root.Properties.Image.Resolution=${(CAMERA_PROFILES[profile].resolutions ?? []).join(',')}`);
      }
      const agent = pinnedAgent({ fingerprint256: c.fingerprint256!, certificatePem: tls.certPem });
      try {
        const overHttps = new VapixClient({ baseUrl: c.url, username: 'root', password: 'pass word', timeoutMs: 5000, agent });
        expect((await overHttps.basicDeviceInfo())['SerialNumber']).toBe(c.identity.serialNumber);
        expect(describeAuthScheme(overHttps.authScheme)).toBe(profile === 'axis-os-12' ? 'Basic over HTTPS (certificate verified before anything was sent)' : 'Digest MD5 (qop=auth)');
        const overHttp = new VapixClient({ baseUrl: c.httpUrl, username: 'root', password: 'pass word', timeoutMs: 5000 });
        expect((await overHttp.listParams('Time'))['Time.NTP.Server']).toBe('0.0.0.0');
        expect(describeAuthScheme(overHttp.authScheme)).toBe('Digest MD5 (qop=auth)');
      } finally {
        agent.destroy();
      }
    });
  }

  it('axis-os-11: a reused nonce gets stale=true and the client answers the new one, once per call', async () => {
    const c = cam('axis-os-11');
    const client = new VapixClient({ baseUrl: c.httpUrl, username: 'root', password: 'pass word', timeoutMs: 5000 });
    await client.listParams('Brand');
    const before = c.stats.requests;
    await client.listParams('Brand');
    await client.listParams('Brand');
    expect(c.stats.requests - before).toBe(4); // per call: the reused nonce (401 stale) and the answer to the new one
  });
});
