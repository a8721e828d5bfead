import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cameraAdd, cameraList } from '../../src/cli/camera-command.js';
import { install } from '../../src/cli/install-command.js';
import { setupCertsCli, setupCheckCli, setupLiveCli, setupNtpCli } from '../../src/cli/setup-command.js';
import { startCameraSimulator } from '../../src/devcloud/camera/simulator.js';
import { createCa, issueCertificate } from '../../src/devcloud/pki.js';
import type { CameraTrust } from '../../src/field/camera-store.js';
import { buildEap } from '../../src/protocol/eap.js';
import { VapixClient } from '../../src/protocol/vapix/client.js';
import { VapixError } from '../../src/protocol/vapix/errors.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { addArgs, cameraCertificate, fieldIo, startFieldKit, type FieldKit } from '../helpers/field.js';

type Stored = { cameras: Record<string, { trust: CameraTrust; password: string }> };

/** A command's failure text, whether it threw or wrote ✗ lines and returned non-zero. */
async function failure(run: (io: ReturnType<typeof fieldIo>) => Promise<number>, configHome: string): Promise<string> {
  const io = fieldIo(configHome);
  try {
    const code = await run(io);
    expect(code).not.toBe(0);
    return io.stdout();
  } catch (err) {
    return (err as Error).message;
  }
}

describe('field tools over HTTPS: the camera certificate is pinned on first contact and checked in every handshake', () => {
  let kit: FieldKit;
  let storeFile: string;
  let eapFile: string;
  let certArgs: string[];
  beforeEach(async () => {
    kit = await startFieldKit();
    storeFile = path.join(kit.configHome, 'cloudcam', 'cameras.json');
    eapFile = path.join(kit.dir, 'cloudcam_1_0_0_armv7hf.eap');
    await writeFile(eapFile, buildEap({ appName: 'cloudcam', version: '1.0.0', architecture: 'armv7hf', apiPath: 'api' }));
    const ca = await createCa('test CA');
    const device = await issueCertificate(ca, { commonName: 'camera-9', usage: 'client' });
    const files = { ca: path.join(kit.dir, 'ca.pem'), cert: path.join(kit.dir, 'dev.crt'), key: path.join(kit.dir, 'dev.key') };
    await writeFile(files.ca, ca.certPem);
    await writeFile(files.cert, device.certPem);
    await writeFile(files.key, device.keyPem, { mode: 0o600 });
    certArgs = ['--ca', files.ca, '--cert', files.cert, '--key', files.key];
  });
  afterEach(async () => kit.cleanup());

  it('an address without scheme is HTTPS; --fingerprint (lower case, no colons) pins the certificate shown', async () => {
    const fp = kit.camera.fingerprint256!;
    const io = fieldIo(kit.configHome, kit.camera.password);
    const address = kit.camera.url.replace('https://', '');
    expect(await cameraAdd([address, '--user', 'root', '--password-stdin', '--fingerprint', fp.replace(/:/g, '').toLowerCase()], io)).toBe(0);
    expect(io.stdout()).toContain(`certificate  SHA256 ${fp}`);
    expect(io.stdout()).toMatch(/subject +CN=B8A44F000001/);
    expect(io.stdout()).toMatch(/valid +\d{4}-.* \.\. \d{4}-/);
    expect(io.stdout()).toContain('certificate pinned');
    const stored = JSON.parse(await readFile(storeFile, 'utf8')) as Stored;
    const trust = stored.cameras[kit.camera.url]!.trust;
    expect(trust).toMatchObject({ kind: 'pinned', fingerprint256: fp });

    const check = fieldIo(kit.configHome);
    await setupCheckCli([], check);
    expect(check.stdout()).toMatch(new RegExp(`✓ camera certificate +pinned SHA256 ${fp}`));
    const list = fieldIo(kit.configHome);
    await cameraList([], list);
    expect(list.stdout()).toContain(`pinned SHA256 ${fp}`);
  });

  it('a wrong --fingerprint refuses before any credential is sent, and stores nothing', async () => {
    const wrong = 'AB'.repeat(32);
    await expect(cameraAdd([...addArgs(kit.camera).slice(0, -1), wrong], fieldIo(kit.configHome, kit.camera.password))).rejects.toThrow(
      new RegExp(`presents certificate SHA256 ${kit.camera.fingerprint256}, not the --fingerprint ${wrong.match(/../g)!.join(':')}; nothing was sent`),
    );
    expect(kit.camera.stats.requests).toBe(0);
    await expect(stat(storeFile)).rejects.toThrow(/ENOENT/);
  });

  it('without --fingerprint asks on a terminal and stores nothing unless confirmed; without a terminal names --fingerprint', async () => {
    const terminal = Object.assign(Readable.from([Buffer.from('n\n')]), { isTTY: true });
    const io = { ...fieldIo(kit.configHome), input: terminal };
    await expect(cameraAdd([kit.camera.url, '--user', 'root'], io)).rejects.toThrow(/certificate not confirmed: nothing was sent or stored/);
    expect(io.stderr()).toMatch(/Pin it\? \[y\/N\]/);
    await expect(cameraAdd([kit.camera.url, '--user', 'root', '--password-stdin'], fieldIo(kit.configHome, kit.camera.password))).rejects.toThrow(/--fingerprint SHA256/);
    expect(kit.camera.stats.requests).toBe(0);
    await expect(stat(storeFile)).rejects.toThrow(/ENOENT/);
  });

  it('on a terminal: shows the certificate, pins it when confirmed, then asks user and password', async () => {
    // A terminal that types each answer once its prompt is shown (as a person would).
    const terminal = Object.assign(new Readable({ read: () => undefined }), { isTTY: true, setRawMode: () => true });
    const io = { ...fieldIo(kit.configHome), input: terminal };
    const answers: [RegExp, string][] = [
      [/Pin it\? \[y\/N\] $/, 'y\n'],
      [/user for \S+: $/, 'root\n'],
      [/password for root@\S+: $/, `${kit.camera.password}\r`],
    ];
    let shown = '';
    io.err.on('data', (c: Buffer) => {
      shown += c.toString('utf8');
      const next = answers[0];
      if (next && next[0].test(shown)) {
        answers.shift();
        shown = '';
        setImmediate(() => terminal.push(next[1])); // after the prompt has started listening, as a person types later
      }
    });
    expect(await cameraAdd([kit.camera.url], io)).toBe(0);
    expect(io.stdout()).toContain(`certificate  SHA256 ${kit.camera.fingerprint256}`);
    const stored = JSON.parse(await readFile(storeFile, 'utf8')) as Stored;
    expect(stored.cameras[kit.camera.url]!.trust).toMatchObject({ kind: 'pinned', fingerprint256: kit.camera.fingerprint256 });
  });

  it('a re-keyed camera is refused by every command before credentials or a body are sent, until re-pinned with --repin', async () => {
    expect(await cameraAdd(addArgs(kit.camera), fieldIo(kit.configHome, kit.camera.password))).toBe(0);
    const pinned = kit.camera.fingerprint256!;
    kit.camera.setCertificate(await cameraCertificate());
    const requests = kit.camera.stats.requests;
    const commands: [string, (io: ReturnType<typeof fieldIo>) => Promise<number>][] = [
      ['setup check', (io) => setupCheckCli([], io)],
      ['setup ntp', (io) => setupNtpCli(['--server', 'pool.ntp.org'], io)],
      ['install', (io) => install([eapFile], io)],
      ['setup certs', (io) => setupCertsCli(certArgs, io)],
    ];
    for (const [name, run] of commands) {
      const text = await failure(run, kit.configHome);
      expect(text, name).toContain(`no longer presents the certificate pinned for it on ${new Date().toISOString().slice(0, 10)} (SHA256 ${pinned})`);
      expect(text, name).toContain(`cloudcam camera add ${kit.camera.url} --repin`);
      expect(text, name).not.toMatch(/powered/);
    }
    // The camera never saw a request: no digest response, no package, no key reached it.
    expect(kit.camera.stats.requests).toBe(requests);

    // camera add without --repin keeps the pin and says how to change it.
    await expect(cameraAdd(addArgs(kit.camera), fieldIo(kit.configHome, kit.camera.password))).rejects.toThrow(/now presents certificate SHA256 .*--repin/);
    expect(kit.camera.stats.requests).toBe(requests);
    expect(await cameraAdd([...addArgs(kit.camera), '--repin'], fieldIo(kit.configHome, kit.camera.password))).toBe(0);
    const stored = JSON.parse(await readFile(storeFile, 'utf8')) as Stored;
    expect(stored.cameras[kit.camera.url]!.trust).toMatchObject({ kind: 'pinned', fingerprint256: kit.camera.fingerprint256 });
    expect(await setupNtpCli(['--server', 'pool.ntp.org'], fieldIo(kit.configHome))).toBe(0);
  });

  it('names the TLS problem and its fix instead of a hint about power', async () => {
    const client = new VapixClient({ baseUrl: kit.camera.url, username: 'root', password: kit.camera.password, timeoutMs: 5000 });
    const err = (await client.basicDeviceInfo().catch((e: unknown) => e)) as VapixError;
    expect(err).toBeInstanceOf(VapixError);
    expect(err.kind).toBe('tls');
    expect(err.message).toContain("the camera's certificate is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT");
    expect(err.message).toMatch(/Fix: pin the camera's certificate, or give the CA that issued it/);
    expect(err.message).not.toMatch(/powered/);
    expect(kit.camera.stats.requests).toBe(0);
  });

  it('--insecure-http works for reading, but setup certs, setup live and install refuse before a byte of key, password or package is sent', async () => {
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(kit.camera.httpUrl).port) });
    try {
      const address = `127.0.0.1:${proxy.port}`;
      await expect(cameraAdd([`http://${address}`, '--user', 'root', '--password-stdin'], fieldIo(kit.configHome, kit.camera.password))).rejects.toThrow(/plain HTTP.*--insecure-http/);
      expect(proxy.connections).toBe(0);
      const add = fieldIo(kit.configHome, kit.camera.password);
      expect(await cameraAdd([address, '--user', 'root', '--password-stdin', '--insecure-http'], add)).toBe(0);
      expect(add.stdout()).toContain('PLAIN HTTP (nothing verified)');
      const check = fieldIo(kit.configHome);
      await setupCheckCli([], check);
      expect(check.stdout()).toMatch(/✗ camera certificate +none: insecure HTTP/);

      const bytes = proxy.clientBytes;
      const connections = proxy.connections;
      await expect(install([eapFile], fieldIo(kit.configHome))).rejects.toThrow(/refusing to send an app package to http:\/\/127\.0\.0\.1:\d+ over plain HTTP.*nothing was sent/);
      await expect(setupCertsCli(certArgs, fieldIo(kit.configHome))).rejects.toThrow(/refusing to send a private key to http:\/\/127\.0\.0\.1:\d+ over plain HTTP/);
      await expect(setupCertsCli([...certArgs, '--dry-run'], fieldIo(kit.configHome))).rejects.toThrow(/refusing to send a private key/);
      await expect(setupLiveCli([], fieldIo(kit.configHome))).rejects.toThrow(/refusing to send a camera account password to http:\/\/127\.0\.0\.1:\d+ over plain HTTP/);
      expect(proxy.connections).toBe(connections);
      expect(proxy.clientBytes).toBe(bytes);
      expect(kit.camera.apps.get('cloudcam')).toBeUndefined();
    } finally {
      await proxy.stop();
    }
  });
});

describe('field tools with --ca: a camera whose certificate a CA issued', () => {
  it('verifies the chain and the host name; a certificate for another name is refused', async () => {
    const ca = await createCa('site CA');
    const kit = await startFieldKit({ tls: await issueCertificate(ca, { commonName: 'camera.site', usage: 'server', ipAddresses: ['127.0.0.1'] }) });
    const other = await startCameraSimulator({ name: 'other', username: 'root', password: 'pw', tls: await issueCertificate(ca, { commonName: 'other.site', usage: 'server', dnsNames: ['other.site'] }) });
    try {
      const caFile = path.join(kit.dir, 'site-ca.pem');
      await writeFile(caFile, ca.certPem);
      // Without --ca the CA-issued certificate is not pinned: the command names --ca.
      await expect(cameraAdd(addArgs(kit.camera), fieldIo(kit.configHome, kit.camera.password))).rejects.toThrow(/issued by CN=site CA: verify it against that CA with --ca FILE/);
      const io = fieldIo(kit.configHome, kit.camera.password);
      expect(await cameraAdd([kit.camera.url, '--user', 'root', '--password-stdin', '--ca', caFile], io)).toBe(0);
      expect(io.stdout()).toContain('certificate verified by CA');
      const check = fieldIo(kit.configHome);
      await setupCheckCli([], check);
      expect(check.stdout()).toMatch(new RegExp(`✓ camera certificate +verified against the CA in ${caFile} \\(host name checked\\)`));

      await expect(cameraAdd([other.url, '--user', 'root', '--password-stdin', '--ca', caFile], fieldIo(kit.configHome, 'pw'))).rejects.toThrow(/does not name the address used.*ERR_TLS_CERT_ALTNAME_INVALID|does not name the address used/);
      expect(other.stats.requests).toBe(0);
    } finally {
      await other.stop();
      await kit.cleanup();
    }
  });
});
