import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { buildManifest, MANIFEST_SCHEMAS, type ManifestInput } from './manifest.js';
import { APP_PARAMS, RUNTIME_PARAMS } from '../agent/app-params.js';

function validator(schema: string): ReturnType<Ajv['compile']> {
  const json = JSON.parse(fs.readFileSync(path.resolve('packaging', 'manifest-schemas', `v${schema}.json`), 'utf8')) as object;
  return new Ajv({ allErrors: true, strict: false }).compile(json);
}

const input = (schema: ManifestInput['schema']): ManifestInput => ({
  schema,
  appName: 'cloudcam',
  friendlyName: 'cloudcam',
  vendor: 'cloudcam',
  vendorUrl: 'https://example.com',
  vendorId: '0123456789',
  version: '0.1.0',
  arch: 'armv7hf',
  minOsVersion: '11.11',
});

describe('manifest.json', () => {
  for (const schema of MANIFEST_SCHEMAS) {
    it(`is valid under the Axis manifest schema ${schema}`, () => {
      const validate = validator(schema);
      for (const arch of ['armv7hf', 'aarch64'] as const) {
        const ok = validate(buildManifest({ ...input(schema), arch }));
        expect(validate.errors ?? []).toEqual([]);
        expect(ok).toBe(true);
      }
    });
  }

  it('fails schema 2.0.0 without the fields AXIS OS 13 requires, and 1.7.3 with them', () => {
    const v2 = validator('2.0.0');
    const m = buildManifest(input('2.0.0')) as { acapPackageConf: { setup: Record<string, unknown> } };
    delete m.acapPackageConf.setup['vendorId'];
    expect(v2(m)).toBe(false);
    expect(JSON.stringify(v2.errors)).toContain('vendorId');
    const v1 = validator('1.7.3');
    expect(v1({ ...buildManifest(input('2.0.0')), schemaVersion: '1.7.3' })).toBe(false);
  });

  it('declares the VAPIX service-account method: required under 2.x, conditional under 1.x, with a dynamic user', () => {
    for (const schema of MANIFEST_SCHEMAS) {
      const m = buildManifest(input(schema)) as { resources: { dbus: Record<string, string[]> }; acapPackageConf: { setup: Record<string, unknown> } };
      const key = schema.startsWith('2.') ? 'requiredMethods' : 'conditionalMethods';
      expect(m.resources.dbus).toEqual({ [key]: ['com.axis.HTTPConf1.VAPIXServiceAccounts1.GetCredentials'] });
      // "To use this D-Bus service, the ACAP application must run as a generated user": no setup.user.
      expect(m.acapPackageConf.setup['user']).toBeUndefined();
    }
  });

  it('gives 2.x an OS range {min, max} and refuses a vendorId that is not 10 hex characters', () => {
    for (const schema of ['2.0.0', '2.1.0'] as const) {
      const m = buildManifest(input(schema)) as { acapPackageConf: { setup: { compatibleOsVersions: unknown } } };
      expect(m.acapPackageConf.setup.compatibleOsVersions).toEqual([{ min: '11.11', max: '13' }]);
      expect(() => buildManifest({ ...input(schema), vendorId: 'ACME' })).toThrow(/10-character hex/);
    }
  });

  it('2.x schemas refuse D-Bus methods outside the list Axis allows', () => {
    for (const schema of ['2.0.0', '2.1.0'] as const) {
      const validate = validator(schema);
      const m = buildManifest(input(schema)) as { resources: { dbus: { requiredMethods: string[] } } };
      m.resources.dbus.requiredMethods = ['org.freedesktop.systemd1.Manager.Reboot'];
      expect(validate(m)).toBe(false);
    }
  });

  it('runs respawned and exposes every main setting and the runtime settings as app parameters', () => {
    const m = buildManifest(input('2.0.0')) as { acapPackageConf: { setup: { runMode: string }; configuration: { paramConfig: { name: string }[] } } };
    expect(m.acapPackageConf.setup.runMode).toBe('respawn');
    expect(m.acapPackageConf.configuration.paramConfig.map((p) => p.name)).toEqual([...APP_PARAMS.map((p) => p.name), ...RUNTIME_PARAMS.map((p) => p.name)]);
  });

  it('exposes the agent local API to admins only, at the port the agent listens on by default', () => {
    for (const schema of MANIFEST_SCHEMAS) {
      const m = buildManifest(input(schema)) as { acapPackageConf: { configuration: { reverseProxy: unknown[] } } };
      expect(m.acapPackageConf.configuration.reverseProxy).toEqual([{ apiPath: 'api', target: 'http://localhost:2001', access: 'admin' }]);
    }
  });
});
