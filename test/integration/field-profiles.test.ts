/**
 * The field tools against every camera simulator profile (src/devcloud/camera/profiles.ts), and the
 * rule of developer.axis.com/vapix/authentication that Basic is for HTTPS only: an AXIS OS 12 camera
 * (Basic only over HTTPS) works over its pinned HTTPS, while over plain HTTP no `Authorization: Basic`
 * header ever leaves cloudcam, counted by a proxy in front of the camera.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cameraAdd } from '../../src/cli/camera-command.js';
import { install } from '../../src/cli/install-command.js';
import { setupCheckCli, setupNtpCli } from '../../src/cli/setup-command.js';
import { CAMERA_PROFILE_NAMES } from '../../src/devcloud/camera/profiles.js';
import { buildEap } from '../../src/protocol/eap.js';
import { addArgs, fieldIo, startFieldKit, type FieldKit } from '../helpers/field.js';

let kit: FieldKit | undefined;
let proxy: Server | undefined;
afterEach(async () => {
  if (proxy) {
    proxy.closeAllConnections();
    await new Promise((r) => proxy!.close(r));
    proxy = undefined;
  }
  await kit?.cleanup();
  kit = undefined;
});

const SCHEME = {
  'axis-os-12': 'Basic over HTTPS',
  'axis-os-11': 'Digest MD5 (qop=auth)',
  'axis-os-10': 'Digest MD5 (qop=auth)',
} as const;

async function writePackage(k: FieldKit): Promise<string> {
  const dir = path.join(k.dir, 'eap');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `cloudcam_1_0_0_${k.camera.identity.architecture}.eap`);
  await writeFile(file, buildEap({ appName: 'cloudcam', version: '1.0.0', architecture: k.camera.identity.architecture, apiPath: 'api' }));
  return file;
}

describe('camera add, install, setup ntp and setup check on every firmware profile (pinned HTTPS)', () => {
  for (const profile of CAMERA_PROFILE_NAMES) {
    it(profile, async () => {
      kit = await startFieldKit({ profile, dhcpNtpServer: '10.1.2.3' });
      expect(await cameraAdd(addArgs(kit.camera), fieldIo(kit.configHome, kit.camera.password))).toBe(0);
      expect(await install([await writePackage(kit)], fieldIo(kit.configHome))).toBe(0);
      expect(kit.camera.apps.get('cloudcam')?.status).toBe('Running');

      // Out of the box the camera takes NTP from DHCP: the report names DHCP's server, not 0.0.0.0.
      const before = fieldIo(kit.configHome);
      await setupCheckCli([], before);
      expect(before.stdout()).toMatch(/✓ NTP +on, servers from DHCP: 10\.1\.2\.3/);
      expect(before.stdout()).not.toContain('0.0.0.0');
      expect(before.stdout()).toMatch(new RegExp(`✓ credentials +accepted; authentication ${SCHEME[profile].replace(/[()]/g, '\\$&')}`));

      const ntp = fieldIo(kit.configHome);
      expect(await setupNtpCli(['--server', 'ntp1.example.net'], ntp)).toBe(0);
      expect(ntp.stdout()).toContain('✓ changed server source: DHCP -> static');
      expect(ntp.stdout()).toContain('servers now ntp1.example.net');

      const after = fieldIo(kit.configHome);
      await setupCheckCli([], after);
      expect(after.stdout()).toMatch(/✓ NTP +on, servers ntp1\.example\.net/);
      expect(after.stdout()).toMatch(/✓ app +cloudcam 1\.0\.0 running/);
    });
  }

  it('setup ntp --dhcp goes back to DHCP, and refuses when DHCP handed out no server', async () => {
    kit = await startFieldKit({ profile: 'axis-os-11' });
    await cameraAdd(addArgs(kit.camera), fieldIo(kit.configHome, kit.camera.password));
    expect(await setupNtpCli(['--server', 'pool.ntp.org'], fieldIo(kit.configHome))).toBe(0);
    await expect(setupNtpCli(['--dhcp'], fieldIo(kit.configHome))).rejects.toThrow(/DHCP handed out none \(Time\.NTP\.VolatileServer is 0\.0\.0\.0\): pass --server/);
    const check = fieldIo(kit.configHome);
    await setupCheckCli([], check);
    expect(check.stdout()).toMatch(/✓ NTP +on, servers pool\.ntp\.org/);
  });
});

/** A plain-HTTP proxy to `target` (http or https) that counts the Authorization schemes it is sent. */
async function countingProxy(target: string, ca: string): Promise<{ url: string; schemes: string[] }> {
  const schemes: string[] = [];
  const to = new URL(target);
  proxy = createServer((req: IncomingMessage, res) => {
    schemes.push((req.headers.authorization ?? '-').split(' ')[0]!);
    const send = to.protocol === 'https:' ? httpsRequest : httpRequest;
    const out = send({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host }, ca, agent: false }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
  return { url: `127.0.0.1:${(proxy.address() as AddressInfo).port}`, schemes };
}

describe('an AXIS OS 12 camera over --insecure-http never receives Basic', () => {
  it('its HTTP listener: Digest MD5 is used; 0 Basic headers', async () => {
    kit = await startFieldKit({ profile: 'axis-os-12' });
    const p = await countingProxy(kit.camera.httpUrl, '');
    expect(await cameraAdd([p.url, '--user', 'root', '--password-stdin', '--insecure-http'], fieldIo(kit.configHome, kit.camera.password))).toBe(0);
    const check = fieldIo(kit.configHome);
    await setupCheckCli([], check);
    expect(check.stdout()).toMatch(/✓ credentials +accepted; authentication Digest MD5/);
    expect(p.schemes).toContain('Digest');
    expect(p.schemes.filter((s) => s === 'Basic')).toHaveLength(0);
  });

  it('its Basic-only challenge relayed over plain HTTP: refused with the fix, 0 Basic headers', async () => {
    kit = await startFieldKit({ profile: 'axis-os-12' });
    // What a downgrade in the middle would show: the HTTPS listener's `Basic realm=...` over plain HTTP.
    const p = await countingProxy(kit.camera.url, await certOf(kit));
    await expect(cameraAdd([p.url, '--user', 'root', '--password-stdin', '--insecure-http'], fieldIo(kit.configHome, kit.camera.password))).rejects.toThrow(
      /offers only Basic authentication, which over plain HTTP would send the password readable to anyone on the network; nothing was sent\. Reach the camera over HTTPS/,
    );
    expect(p.schemes.length).toBeGreaterThan(0);
    expect(p.schemes.filter((s) => s === 'Basic')).toHaveLength(0);
  });
});

/** The camera's certificate PEM, for the proxy to trust its upstream. */
async function certOf(k: FieldKit): Promise<string> {
  const { fetchPresentedCertificate } = await import('../../src/protocol/camera-tls.js');
  return (await fetchPresentedCertificate(k.camera.url, 5000)).certificatePem;
}
