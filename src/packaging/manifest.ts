/**
 * manifest.json for the .eap. Schema 2.0.0 by default: AXIS OS 13 requires 2.x, which AXIS OS 11.11
 * and later accept (ACAP SDK 1.15.2 release notes). Schema 1.7.3 for cameras before 11.11.
 * Field rules: developer.axis.com/acap/develop/manifest-schemas (field descriptions and "Upgrade a
 * manifest"); packaging/manifest-schemas/ holds our transcription that the tests validate against.
 */
import { manifestParamConfig } from '../agent/app-params.js';
import { LOCAL_API_DEFAULT_PORT } from '../agent/config/index.js';
import type { Arch } from './targets.js';

export type ManifestSchema = '2.0.0' | '1.7.3';
export const MANIFEST_SCHEMAS: readonly ManifestSchema[] = ['2.0.0', '1.7.3'];

export interface ManifestInput {
  schema: ManifestSchema;
  appName: string;
  friendlyName: string;
  vendor: string;
  vendorUrl: string;
  /** Axis-issued 10-hex-digit vendor id (schema 2.x only). */
  vendorId: string;
  version: string;
  arch: Arch;
  /** Lowest AXIS OS version (schema 2.x only). */
  minOsVersion: string;
}

export function buildManifest(m: ManifestInput): Record<string, unknown> {
  const setup: Record<string, unknown> = {
    appName: m.appName,
    friendlyName: m.friendlyName,
    vendor: m.vendor,
    ...(m.schema === '2.0.0' ? { vendorId: m.vendorId } : {}),
    vendorUrl: m.vendorUrl,
    version: m.version,
    // The agent never gives up reconnecting; respawn covers crashes and a bad config fixed later.
    runMode: 'respawn',
    architecture: m.arch,
    ...(m.schema === '2.0.0' ? { compatibleOsVersions: [{ min: m.minOsVersion }] } : { embeddedSdkVersion: '3.0' }),
  };
  return {
    schemaVersion: m.schema,
    acapPackageConf: {
      setup,
      configuration: {
        paramConfig: manifestParamConfig(),
        // The agent's local API (GET /status, POST /certs) as /local/{appName}/api/, admin only: the
        // camera's web server does the digest auth and the role check (docs/field-tools.md).
        reverseProxy: [{ apiPath: 'api', target: `http://localhost:${LOCAL_API_DEFAULT_PORT}`, access: 'admin' }],
      },
    },
  };
}
