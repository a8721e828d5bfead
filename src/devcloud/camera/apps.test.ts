/**
 * The simulated camera's app registry: installing a package creates its manifest's parameters under
 * root.{appName} (AXIS OS creates an app's parameters from `configuration.paramConfig` at
 * installation: Axis's manifest schema and AXParameter pages; confirmed from documentation only), and
 * every start or restart counts, so whatever runs the app's process can follow control.cgi.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseEapManifest, writeTar } from '../../protocol/eap.js';
import { buildManifest } from '../../packaging/manifest.js';
import { AppRegistry } from './apps.js';
import { ParamTree } from './params.js';

const tree = (): ParamTree =>
  new ParamTree({
    brand: { prodFullName: 'AXIS P3245-LVE Network Camera', prodNbr: 'P3245-LVE', prodShortName: 'AXIS P3245-LVE' },
    serialNumber: 'B8A44F000001',
    architecture: 'armv7hf',
    soc: 'Axis Artpec-7',
    firmware: '12.6.94',
    buildDate: 'Oct 14 2025 10:12',
    resolutions: ['1920x1080'],
    defaultResolution: '1920x1080',
    defaultCompression: 30,
    dhcpNtpServer: '0.0.0.0',
  });

/** The manifest `make package` writes for armv7hf. */
const packagedManifest = (version = '0.1.0'): Record<string, unknown> =>
  buildManifest({ schema: '2.1.0', appName: 'cloudcam', friendlyName: 'cloudcam', vendor: 'cloudcam', vendorUrl: 'https://example.com', vendorId: '0123456789', version, arch: 'armv7hf', minOsVersion: '12.0' });
const eapOf = (manifest: Record<string, unknown>): Buffer => gzipSync(writeTar({ 'manifest.json': JSON.stringify(manifest), cloudcam: '#!/bin/sh\n', LICENSE: 'x\n' }));

describe('AppRegistry', () => {
  it('upload.cgi creates the package paramConfig parameters, live view account included', () => {
    const params = tree();
    const apps = new AppRegistry('armv7hf', params);
    expect(params.list('cloudcam')).toContain('# Error');
    expect(apps.upload(eapOf(packagedManifest()))).toBe('OK');
    const listed = params.list('cloudcam');
    expect(listed).toContain('root.cloudcam.LiveRtspUsername=\n');
    expect(listed).toContain('root.cloudcam.LiveRtspPassword=\n');
    expect(listed).toContain('root.cloudcam.ThingName=\n');
    expect(params.update([['root.cloudcam.LiveRtspUsername', 'cloudcamlive']])).toBe('OK\n');
  });

  it('an upgrade keeps the values already set', () => {
    const params = tree();
    const apps = new AppRegistry('armv7hf', params);
    apps.upload(eapOf(packagedManifest('0.1.0')));
    params.update([['root.cloudcam.LiveRtspUsername', 'cloudcamlive']]);
    expect(apps.upload(eapOf(packagedManifest('0.1.1')))).toBe('OK');
    expect(params.get('cloudcam.LiveRtspUsername')).toBe('cloudcamlive');
  });

  it('a package without paramConfig gets no parameters group', () => {
    const params = tree();
    const apps = new AppRegistry('armv7hf', params);
    const manifest = packagedManifest();
    delete (manifest['acapPackageConf'] as { configuration: Record<string, unknown> }).configuration['paramConfig'];
    expect(apps.upload(eapOf(manifest))).toBe('OK');
    expect(params.list('cloudcam')).toContain('# Error');
  });

  it('counts every start and restart of the app, not a refused start', () => {
    const apps = new AppRegistry('armv7hf', tree());
    apps.upload(eapOf(packagedManifest()));
    expect(apps.get('cloudcam')).toMatchObject({ status: 'Stopped', runs: 0 });
    expect(apps.control('start', 'cloudcam')).toBe('OK');
    expect(apps.control('start', 'cloudcam')).toBe('Error: 6');
    expect(apps.control('restart', 'cloudcam')).toBe('OK');
    expect(apps.get('cloudcam')).toMatchObject({ status: 'Running', runs: 2 });
    expect(apps.control('stop', 'cloudcam')).toBe('OK');
    expect(apps.get('cloudcam')?.runs).toBe(2);
  });

  it('install() records an app unpacked elsewhere as running, with its parameters', () => {
    const params = tree();
    const apps = new AppRegistry('armv7hf', params);
    apps.install(parseEapManifest(packagedManifest()), 'Running');
    expect(apps.get('cloudcam')).toMatchObject({ status: 'Running', runs: 1 });
    expect(params.get('cloudcam.LiveRtspPassword')).toBe('');
  });
});
