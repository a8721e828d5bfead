import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../lib/atomic-file.js';
import type { Broker } from './broker/index.js';
import type { CameraSimulator } from './camera/simulator.js';
import type { DevPki } from './pki.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/**
 * Writes DIR/agents/{thing}.json: a ready-to-use agent config per simulated camera (0600: it holds
 * the camera password). The agent reaches its camera's plain-HTTP port, as an app on the camera's
 * loopback does. Uploads go to devcloud's S3 over plain HTTP on loopback, so that exact host
 * is allowed for dev; nothing else is. A claim camera's config names no thing and no device
 * certificate: the agent enrols with the claim certificate and stores its identity in its state dir.
 */
export async function writeAgentConfigs(opts: {
  stateDir: string;
  things: string[];
  pki: DevPki;
  broker: Broker;
  s3Url: string;
  cameras: ReadonlyMap<string, CameraSimulator>;
  overrides: Record<string, unknown>;
  /** Cameras that enrol by claim: their configs carry the claim certificate and no identity. */
  claim?: { cameras: string[]; templateName: string };
  /** devcloud's dev release key (public half): trusted by these agents only, through their config. */
  releaseKeyPath?: string;
  /** Live view's stand-ins (KVS control plane, IoT credentials provider), signed by devcloud's CA. */
  live?: { kvsUrl: string; credentialsUrl: string; roleAlias: string; region: string };
}): Promise<Record<string, string>> {
  const dir = path.join(opts.stateDir, 'agents');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const s3 = new URL(opts.s3Url);
  const written: Record<string, string> = {};
  const claim = opts.claim;
  for (const thing of [...opts.things, ...(claim?.cameras ?? [])]) {
    const isClaim = !opts.things.includes(thing);
    const camera = opts.cameras.get(thing)!;
    const iot = {
      endpoint: opts.broker.host,
      port: opts.broker.port,
      mqttVersion: opts.broker.mqttVersions.includes(5) ? 5 : '3.1.1',
      caPath: opts.pki.caCertPath,
    };
    const identity = isClaim
      ? { iot, provisioning: { claimCertPath: opts.pki.claim.certPath, claimKeyPath: opts.pki.claim.keyPath, templateName: claim?.templateName ?? '' } }
      : { thingName: thing, iot: { ...iot, certPath: opts.pki.devices[thing]!.certPath, keyPath: opts.pki.devices[thing]!.keyPath } };
    const config = deepMerge(
      {
        ...identity,
        // The agent runs on the camera and talks to it over the loopback: plain HTTP, like an ACAP app
        // (AXIS OS serves VAPIX to apps on http://127.0.0.1 / 127.0.0.12); HTTPS is for the LAN.
        camera: { url: camera.httpUrl, username: camera.username, password: camera.password },
        snapshot: { allowedUploadHosts: [s3.host], insecureHttpUploadHosts: [s3.host] },
        // Update packages come from the release bucket of the same S3 stand-in, signed by the dev key.
        update: { allowedDownloadHosts: [s3.host], insecureHttpDownloadHosts: [s3.host], ...(opts.releaseKeyPath ? { extraReleaseKeyPath: opts.releaseKeyPath } : {}) },
        stateDir: path.join(dir, `${thing}.state`),
        // Many agents on one machine: each takes a free port (the camera simulator is told which).
        localApi: { port: 0 },
        // Live view through devcloud's KVS and credentials provider (devcloud's CA signed both), from
        // this camera's own RTSP port.
        ...(opts.live
          ? {
              live: {
                credentialsEndpoint: opts.live.credentialsUrl,
                roleAlias: opts.live.roleAlias,
                region: opts.live.region,
                kvsEndpoint: opts.live.kvsUrl,
                caPath: opts.pki.caCertPath,
                rtspPort: camera.rtsp.port,
              },
            }
          : {}),
      },
      opts.overrides,
    );
    const file = path.join(dir, `${thing}.json`);
    await writeFileAtomic(file, JSON.stringify(config, null, 2) + '\n', 0o600);
    written[thing] = file;
  }
  return written;
}
