/**
 * The live-view stand-ins alone (no broker, no cameras): devcloud's PKI in a temp dir, the KVS
 * control and signalling endpoints, and the IoT credentials provider sharing one credentials
 * registry; the viewer API's key pair; AWS SDK clients that trust devcloud's CA. `shiftClock` moves
 * the stand-ins' clock (expiry tests) without touching the machine's.
 */
import https from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { KinesisVideoSignalingClient } from '@aws-sdk/client-kinesis-video-signaling';
import { ensurePki, type DevPki } from '../../src/devcloud/pki.js';
import { CredentialsRegistry, type AwsCredentials } from '../../src/devcloud/kvs/iam.js';
import { startKvs, type KvsStandIn } from '../../src/devcloud/kvs/server.js';
import { startIotCredentialsProvider, type IotCredentialsProvider } from '../../src/devcloud/iot-credentials/server.js';
import { fetchRoleCredentials, type RoleCredentials } from '../../src/protocol/iot-credentials.js';
import { captureLog, type CapturedLog } from './agent-connection-kit.js';

export const REGION = 'us-east-1';
export const VIEWER_API: AwsCredentials = { accessKeyId: 'AKIAVIEWERAPI0000001', secretAccessKey: 'viewer-api-secret-for-tests' };

export interface LiveCloud {
  dir: string;
  pki: DevPki;
  ca: Buffer;
  kvs: KvsStandIn;
  credentials: IotCredentialsProvider;
  registry: CredentialsRegistry;
  captured: CapturedLog;
  shiftClock(ms: number): void;
  kvsClient(credentials?: AwsCredentials): KinesisVideoClient;
  signalingClient(endpoint: string, credentials?: AwsCredentials): KinesisVideoSignalingClient;
  /** Role credentials for `thing` fetched with its own certificate, as the agent does. */
  cameraCredentials(thing: string): Promise<RoleCredentials>;
  stop(): Promise<void>;
}

export async function startLiveCloud(opts: { credentialSeconds?: number; rate?: { perSecond: number } } = {}): Promise<LiveCloud> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cloudcam-live-'));
  const pki = await ensurePki(path.join(dir, 'pki'), ['camera-1', 'camera-2']);
  const [ca, cert, key, crl] = await Promise.all([readFile(pki.caCertPath), readFile(pki.server.certPath), readFile(pki.server.keyPath), readFile(pki.crlPath)]);
  let offset = 0;
  const now = (): number => Date.now() + offset;
  const registry = new CredentialsRegistry(now);
  registry.addLongTerm(VIEWER_API, { kind: 'viewer-api' });
  const captured = captureLog();
  const kvs = await startKvs({ region: REGION, registry, tls: { cert, key }, log: captured.log, now, ...(opts.rate ? { rate: opts.rate } : {}) });
  const credentials = await startIotCredentialsProvider({
    tls: { cert, key, ca, crl },
    registry,
    log: captured.log,
    ...(opts.credentialSeconds !== undefined ? { credentialSeconds: opts.credentialSeconds } : {}),
  });
  const httpsAgent = new https.Agent({ ca });
  return {
    dir,
    pki,
    ca,
    kvs,
    credentials,
    registry,
    captured,
    shiftClock: (ms) => {
      offset += ms;
    },
    kvsClient: (c = VIEWER_API) => new KinesisVideoClient({ endpoint: kvs.controlUrl, region: REGION, credentials: c, maxAttempts: 1, requestHandler: { httpsAgent } }),
    signalingClient: (endpoint, c = VIEWER_API) => new KinesisVideoSignalingClient({ endpoint, region: REGION, credentials: c, maxAttempts: 1, requestHandler: { httpsAgent } }),
    cameraCredentials: async (thing) => {
      const paths = pki.devices[thing]!;
      const [deviceCert, deviceKey] = await Promise.all([readFile(paths.certPath), readFile(paths.keyPath)]);
      return fetchRoleCredentials({ endpoint: credentials.url, roleAlias: credentials.roleAlias, thingName: thing, tls: { cert: deviceCert, key: deviceKey, ca } });
    },
    stop: async () => {
      httpsAgent.destroy();
      await Promise.all([kvs.stop(), credentials.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
