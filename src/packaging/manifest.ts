/**
 * manifest.json for the .eap. Schema 2.0.0 by default: AXIS OS 13 requires 2.x, which AXIS OS 11.11
 * and later accept (ACAP SDK 1.15.2 release notes); 2.1.0 on request (MANIFEST_SCHEMA=2.1.0), until
 * Axis's version table says which AXIS OS accepts it. Schema 1.7.3 for cameras before 11.11.
 * Field rules: developer.axis.com/acap/develop/manifest-schemas (field descriptions and "Upgrade a
 * manifest"); packaging/manifest-schemas/ holds our transcription that the tests validate against.
 * docs/packaging.md cites the page for each field we emit.
 *
 * Keyless VAPIX ("VAPIX access for ACAP applications"): the app declares
 * com.axis.HTTPConf1.VAPIXServiceAccounts1.GetCredentials and runs as its dynamic user (no
 * setup.user). Required under 2.x, whose cameras (11.11+) all have it (GA in 11.9), as Axis's example
 * does; conditional under 1.x, so cameras before 11.9 still install the app, which then uses the
 * configured account (agent/camera-access.ts).
 */
import { manifestParamConfig } from '../agent/app-params.js';
import { LOCAL_API_DEFAULT_PORT } from '../agent/config/index.js';
import type { Arch } from './targets.js';
import { GET_CREDENTIALS_METHOD } from '../protocol/vapix/service-account.js';

export type ManifestSchema = '2.1.0' | '2.0.0' | '1.7.3';
export const MANIFEST_SCHEMAS: readonly ManifestSchema[] = ['2.1.0', '2.0.0', '1.7.3'];
/** The newest AXIS OS major the package declares itself compatible with (compatibleOsVersions max). */
export const MAX_OS_MAJOR = '13';

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
  const v2 = m.schema.startsWith('2.');
  if (v2 && !/^[0-9a-f]{10}$/.test(m.vendorId)) throw new RangeError(`vendorId "${m.vendorId}" must be the 10-character hex string Axis issued (set ACAP_VENDOR_ID)`);
  const setup: Record<string, unknown> = {
    appName: m.appName,
    friendlyName: m.friendlyName,
    vendor: m.vendor,
    ...(v2 ? { vendorId: m.vendorId } : {}),
    vendorUrl: m.vendorUrl,
    version: m.version,
    // The agent never gives up reconnecting; respawn covers crashes and a bad config fixed later.
    runMode: 'respawn',
    architecture: m.arch,
    // One {min, max} range ("Upgrade a manifest"): max is a major we know the APIs of, so a future
    // major has to be declared by a new release instead of being assumed.
    ...(v2 ? { compatibleOsVersions: [{ min: m.minOsVersion, max: MAX_OS_MAJOR }] } : { embeddedSdkVersion: '3.0' }),
  };
  const method = [GET_CREDENTIALS_METHOD];
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
    resources: { dbus: v2 ? { requiredMethods: method } : { conditionalMethods: method } },
  };
}
