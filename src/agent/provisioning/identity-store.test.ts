import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '../../devcloud/pki.js';
import { confirmInstalledIdentity, installedIdentityFiles, readInstalledIdentity, restorePreviousIdentity, writeIdentity, writeInstalledIdentity } from './identity-store.js';

describe('installed identities are on trial and can be rolled back', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-idstore-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const pair = async () => issueCertificate(await createCa('ca'), { commonName: 'camera-1', usage: 'client' });

  it('over configured files elsewhere: the roll-back removes the installed files and the mark, and never writes the configured files', async () => {
    const caPath = path.join(dir, 'ca.pem');
    const configured = { caPath, certPath: path.join(dir, 'conf', 'device.crt'), keyPath: path.join(dir, 'conf', 'device.key') };
    const old = await pair();
    await writeIdentity({ ...configured, stateDir: path.join(dir, 'unused') }, { thingName: 'camera-1', certificatePem: old.certPem, privateKeyPem: old.keyPem });
    const stateDir = path.join(dir, 'state');
    const next = await pair();
    const { files } = await writeInstalledIdentity(stateDir, configured, { thingName: 'camera-1', certificatePem: next.certPem, privateKeyPem: next.keyPem });
    expect(files).toEqual(installedIdentityFiles(stateDir, caPath));
    expect(await readInstalledIdentity(stateDir, caPath)).toEqual({ ...files, trial: true });
    expect(await restorePreviousIdentity(stateDir, caPath)).toEqual(configured);
    expect(await readInstalledIdentity(stateDir, caPath)).toBeUndefined();
    expect(await readdir(path.join(stateDir, 'identity'))).toEqual([]);
    expect(await readFile(configured.keyPath, 'utf8')).toBe(old.keyPem);
    expect(await restorePreviousIdentity(stateDir, caPath)).toBeUndefined();
  });

  it('over an installed identity: the roll-back writes the previous key, certificate and mark back', async () => {
    const caPath = path.join(dir, 'ca.pem');
    const stateDir = path.join(dir, 'state');
    const first = await pair();
    const w = await writeInstalledIdentity(stateDir, { caPath, certPath: path.join(dir, 'none.crt'), keyPath: path.join(dir, 'none.key') }, { thingName: 'camera-1', certificatePem: first.certPem, privateKeyPem: first.keyPem });
    await confirmInstalledIdentity(stateDir);
    const markBefore = await readFile(path.join(stateDir, 'identity.json'), 'utf8');
    expect(JSON.parse(markBefore)).not.toHaveProperty('trial');
    expect(await readInstalledIdentity(stateDir, caPath)).toEqual({ ...w.files, trial: false });
    const second = await pair();
    await writeInstalledIdentity(stateDir, w.files, { thingName: 'camera-1', certificatePem: second.certPem, privateKeyPem: second.keyPem });
    expect(await readFile(w.files.keyPath, 'utf8')).toBe(second.keyPem);
    expect(await restorePreviousIdentity(stateDir, caPath)).toEqual(w.files);
    expect(await readFile(w.files.keyPath, 'utf8')).toBe(first.keyPem);
    expect(await readFile(w.files.certPath, 'utf8')).toBe(first.certPem);
    expect(await readFile(path.join(stateDir, 'identity.json'), 'utf8')).toBe(markBefore);
    expect((await readdir(path.join(stateDir, 'identity'))).sort()).toEqual(['device.crt', 'device.key']);
  });

  it('ignores a ca.pem that older versions wrote beside the identity: the CA is always the configured one', async () => {
    const stateDir = path.join(dir, 'state');
    const p = await pair();
    const w = await writeInstalledIdentity(stateDir, { caPath: '/configured/ca.pem', certPath: path.join(dir, 'x.crt'), keyPath: path.join(dir, 'x.key') }, { thingName: 'camera-1', certificatePem: p.certPem, privateKeyPem: p.keyPem });
    await writeFile(path.join(stateDir, 'identity', 'ca.pem'), 'attacker CA');
    expect(await readInstalledIdentity(stateDir, '/configured/ca.pem')).toEqual({ ...w.files, trial: true, caPath: '/configured/ca.pem' });
  });

  it('a second install during a trial keeps the last identity that connected as the one to go back to', async () => {
    const caPath = path.join(dir, 'ca.pem');
    const stateDir = path.join(dir, 'state');
    const confirmed = await pair();
    const w = await writeInstalledIdentity(stateDir, { caPath, certPath: path.join(dir, 'none.crt'), keyPath: path.join(dir, 'none.key') }, { thingName: 'camera-1', certificatePem: confirmed.certPem, privateKeyPem: confirmed.keyPem });
    await confirmInstalledIdentity(stateDir);
    for (const untried of [await pair(), await pair()]) await writeInstalledIdentity(stateDir, w.files, { thingName: 'camera-1', certificatePem: untried.certPem, privateKeyPem: untried.keyPem });
    await restorePreviousIdentity(stateDir, caPath);
    expect(await readFile(w.files.certPath, 'utf8')).toBe(confirmed.certPem);
  });
});
