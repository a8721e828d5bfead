import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * DIR/devcloud.json: how to reach every devcloud stand-in. Written when all of them are up (its
 * appearance is the readiness signal), removed on a clean stop. Schema: docs/devcloud.md.
 */
export interface DevcloudInfo {
  schema: 1;
  pid: number;
  startedAt: string;
  stateDir: string;
  region: string;
  shadowName: string;
  mqtt: { url: string; host: string; port: number; broker: 'mosquitto' | 'aedes'; mqttVersions: (4 | 5)[] };
  caPath: string;
  cloud: { clientId: string; certPath: string; keyPath: string };
  devices: Record<string, { certPath: string; keyPath: string; agentConfigPath: string }>;
  /** The shadow REST API; requests must be SigV4-signed with this key pair (the same as s3's: one cloud principal). */
  dataPlane: { url: string; region: string; accessKeyId: string; secretAccessKey: string };
  /** bucket: snapshots; releaseBucket: release packages for update jobs (presigned GETs at job delivery). */
  s3: { url: string; bucket: string; releaseBucket: string; region: string; accessKeyId: string; secretAccessKey: string; dir: string };
  /**
   * url: HTTPS with the camera's self-signed certificate (fingerprint256, certPath), as field tools
   * reach a camera; httpUrl: plain HTTP, what devcloud's agent configs use (an app on the camera).
   */
  cameras: Record<
    string,
    {
      url: string;
      httpUrl: string;
      fingerprint256: string;
      certPath: string;
      username: string;
      password: string;
      serialNumber: string;
      model: string;
      architecture: string;
      /** The firmware profile the simulator copies (`--camera-profile`; docs/devcloud.md). */
      profile: string;
      /**
       * The camera's RTSP server (`rtsp://127.0.0.1:{rtspPort}/axis-media/media.amp?videocodec=h264`,
       * the same accounts as its HTTP side); the agent config's `live.rtspPort` points at it.
       */
      rtspPort: number;
      rtspUrl: string;
      /** With --service-accounts: the camera's D-Bus (DBUS_SYSTEM_BUS_ADDRESS) and its local virtual host (camera.serviceAccountUrl). */
      serviceAccount?: { busAddress: string; url: string };
    }
  >;
  control: { url: string };
  /** Fleet provisioning by claim (devcloud's stand-in for the deployed template and claim certificate). */
  provisioning: { templateName: string; thingNamePrefix: string; claimCertPath: string; claimKeyPath: string };
  /** Cameras that enrol by claim (`--claim-cameras N`), keyed claim-1..claim-N; their thing names come from RegisterThing. */
  claimCameras: Record<string, { agentConfigPath: string; serialNumber: string }>;
  /** The viewer web app and its dev sign-in (docs/viewer.md). */
  viewer: { url: string; username: string; password: string };
  /**
   * Live view (docs/protocol-live.md). kvs: the KinesisVideo control plane (`endpoint` of
   * @aws-sdk/client-kinesis-video; sign with the dataPlane key pair, the viewer API's) and the
   * signalling HTTPS endpoint; both use devcloud's server certificate (caPath). credentialsProvider:
   * the `iot:CredentialProvider` endpoint (mutual TLS with a device certificate) and its role alias.
   */
  live: {
    kvs: { controlUrl: string; signallingUrl: string; region: string };
    credentialsProvider: { url: string; roleAlias: string };
  };
}

export const DEVCLOUD_INFO_FILE = 'devcloud.json';
/** Provisioned certificate CN -> thing, for the active ones (a deactivated one is removed and put on the CRL). */
export const PROVISIONED_FILE = 'provisioned.json';

export function devcloudInfoPath(stateDir: string): string {
  return path.join(stateDir, DEVCLOUD_INFO_FILE);
}

export async function readDevcloudInfo(stateDir: string): Promise<DevcloudInfo> {
  const file = devcloudInfoPath(stateDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new Error(`no devcloud is running with state dir ${stateDir} (${file} is missing): start one with \`cloudcam devcloud --state-dir ${stateDir}\``);
  }
  const info = JSON.parse(text) as DevcloudInfo;
  if (info.schema !== 1) throw new Error(`${file} has schema ${String(info.schema)}; this cloudcam reads schema 1`);
  return info;
}
