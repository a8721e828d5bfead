import { mkdir, readFile as readText, rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../lib/log.js';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { createCloudHandler, type CloudHandler } from '../cloud/handler.js';
import { DEFAULT_SHADOW_NAME } from '../protocol/topics.js';
import { ensurePki, ensureSelfSignedServerCertificate, loadCa, CLAIM_IDENTITY, CLOUD_IDENTITY, type DevPki } from './pki.js';
import { startIdentityService, type IdentityService, type Registration } from './identity/mqtt-service.js';
import { devcloudThingRegistry } from './identity/registry.js';
import { writeEnrolment } from './identity/enrolments.js';
import { startBroker, type Broker, type BrokerKind } from './broker/index.js';
import { ShadowStore } from './shadow/store.js';
import { startShadowService, type ShadowService } from './shadow/mqtt-service.js';
import { startDataPlaneApi, type DataPlaneApi } from './shadow/rest-api.js';
import { startS3, type S3StandIn } from './s3/server.js';
import { startCameraSimulator, type CameraSimulator } from './camera/simulator.js';
import { DEFAULT_CAMERA_PROFILE, type CameraProfileName } from './camera/profiles.js';
import { startServiceAccountBus, type ServiceAccountBus } from './camera/service-accounts.js';
import { startCloudRules, type CloudRules } from './cloud-rules.js';
import { startControlApi } from './control-api.js';
import { ensureSecrets } from './secrets.js';
import { PROVISIONED_FILE, devcloudInfoPath, type DevcloudInfo } from './info.js';
import { writeAgentConfigs } from './agent-configs.js';
import { ensureDevReleaseKey } from './release-key.js';
import { startDevcloudViewer, type DevcloudViewer } from './viewer.js';
import { createS3Client } from '../cloud/handler.js';
import { createBucket } from '../viewer/api/bucket.js';
import { JobStore } from './jobs/store.js';
import { startJobsService } from './jobs/mqtt-service.js';
import { isThingName } from './broker/acl.js';
import { CredentialsRegistry } from './kvs/iam.js';
import { startKvs, type KvsStandIn } from './kvs/server.js';
import { liveRequestTopic } from '../protocol/live-request.js';
import { startIotCredentialsProvider, type IotCredentialsProvider } from './iot-credentials/server.js';

export const DEVCLOUD_BUCKET = 'cloudcam-snapshots';
/** Where release packages go; job documents point at them with presigned-URL placeholders (docs/protocol-jobs.md). */
export const DEVCLOUD_RELEASE_BUCKET = 'cloudcam-releases';
export const DEVCLOUD_REGION = 'us-east-1';
export const CAMERA_USER = 'cloudcam';
/** devcloud's fleet provisioning template; things are named like the deployed template's (infra/). */
export const DEVCLOUD_TEMPLATE = 'cloudcam-devcloud-fleet';
export const THING_NAME_PREFIX = 'cloudcam-';

export interface DevcloudOptions {
  stateDir: string;
  cameras: number;
  broker?: BrokerKind;
  log: Logger;
  /** Presigned POST life; tests shorten it. */
  expiresSeconds?: number;
  /** Extra settings merged into each generated agent config (e.g. a schedule for `make run`). */
  agentOverrides?: Record<string, unknown>;
  /** Cameras that enrol by claim, named claim-1..claim-N. */
  claimCameras?: number;
  /** Serial numbers allowed to enrol (like the deployed pre-provisioning hook); default: any. */
  allowedSerials?: string[];
  /** The identity service's clock (ownership token expiry); tests move it. */
  now?: () => number;
  /**
   * Each camera also serves its local virtual host on 127.0.0.12 and has its own D-Bus bus with the
   * VAPIX service-account stand-in (needs dbus-daemon); devcloud.json then gives `serviceAccount`.
   */
  serviceAccounts?: boolean;
  /** Thumbnails for every stored snapshot (default on); test suites that count S3 traffic turn them off. */
  thumbnails?: boolean;
  /**
   * Milliseconds in one minute of the Jobs service (step and in-progress timeouts, rollout rate);
   * default 60000. Tests shorten it so a 1-minute step timeout does not take a minute.
   */
  jobsMinuteMs?: number;
  /**
   * The firmware each camera copies (camera/profiles.ts), given in camera order and repeated when
   * there are more cameras than entries; default axis-os-12 for all.
   */
  cameraProfiles?: CameraProfileName[];
  /** Life of the role credentials the IoT credentials provider issues (default 3600 s, the role alias default). */
  liveCredentialSeconds?: number;
}

export interface Devcloud {
  readonly info: DevcloudInfo;
  readonly pki: DevPki;
  /** The running broker (a new object after startBroker()). */
  readonly broker: Broker;
  /** Stops the broker (kill: abruptly, as a crash) and leaves it down; for fault tests. */
  stopBroker(opts?: { kill?: boolean }): Promise<void>;
  /** Starts the broker again on the same port, after stopBroker(). */
  startBroker(): Promise<void>;
  /** stopBroker() then startBroker(): clients see the broker vanish and come back on the same port. */
  restartBroker(opts?: { kill?: boolean }): Promise<void>;
  readonly store: ShadowStore;
  /** The Jobs service's state (docs/protocol-jobs.md); the control API's /jobs endpoints use it. */
  readonly jobs: JobStore;
  readonly dataPlane: DataPlaneApi;
  readonly s3: S3StandIn;
  readonly cameras: ReadonlyMap<string, CameraSimulator>;
  readonly handler: CloudHandler;
  readonly rules: CloudRules;
  readonly identity: IdentityService;
  /** The viewer: web app, API, stand-in sign-in issuer, thumbnails (docs/viewer.md). */
  readonly viewer: DevcloudViewer;
  /** Live view's stand-ins: KVS signalling and the IoT credentials provider, with the key pairs they accept (docs/protocol-live.md). */
  readonly live: { kvs: KvsStandIn; credentialsProvider: IotCredentialsProvider; iam: CredentialsRegistry };
  stop(): Promise<void>;
}

export function claimCameraNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `claim-${i + 1}`);
}

/** Provisioned certificate identity -> thing, kept so things provisioned earlier reconnect after a restart. */
async function readProvisioned(file: string): Promise<Record<string, string>> {
  try {
    return JSON.parse(await readText(file, 'utf8')) as Record<string, string>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`cannot read ${file}: ${(err as Error).message}; delete it (provisioned cameras then enrol again)`, { cause: err });
  }
}

export function thingNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `camera-${i + 1}`);
}

async function connectCloudClient(broker: Broker): Promise<MqttClient> {
  return mqtt.connectAsync({
    ...(await broker.cloudClientOptions()),
    clientId: `${CLOUD_IDENTITY}-${process.pid}`,
    protocolVersion: 4,
    // Back within a few ms of a broker restart: AWS's shadow service has no such gap, and requests the
    // devices publish meanwhile would be lost (fault tests restart the broker often).
    reconnectPeriod: 20,
    connectTimeout: 5000,
  });
}

/** camera-N: ACCC8E1000NN; claim-N: ACCC8E2000NN (12 hex digits, like Axis serials). */
function serialOf(name: string, index: number, things: number): string {
  return name.startsWith('claim-') ? `ACCC8E${String(200000 + index - things + 1)}` : `ACCC8E${String(100000 + index + 1)}`;
}

/**
 * Starts every stand-in on 127.0.0.1 and free ports, then writes DIR/devcloud.json and
 * DIR/agents/{thing}.json. A failure part-way stops what was started.
 */
export async function startDevcloud(opts: DevcloudOptions): Promise<Devcloud> {
  const stateDir = path.resolve(opts.stateDir);
  const { log } = opts;
  const things = thingNames(opts.cameras);
  const claimNames = claimCameraNames(opts.claimCameras ?? 0);
  const stack: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    while (stack.length > 0) {
      const stop = stack.pop()!;
      try {
        await stop();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'error while stopping a devcloud part');
      }
    }
  };

  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const infoFile = devcloudInfoPath(stateDir);
  await rm(infoFile, { force: true });

  try {
    const [pki, secrets] = await Promise.all([ensurePki(path.join(stateDir, 'pki'), things), ensureSecrets(stateDir, [...things, ...claimNames])]);
    const provisionedFile = path.join(stateDir, PROVISIONED_FILE);
    const provisioned = await readProvisioned(provisionedFile);

    const brokerOptions = {
      ...(opts.broker ? { kind: opts.broker } : {}),
      pki,
      workDir: path.join(stateDir, 'broker'),
      extraIdentities: [CLAIM_IDENTITY],
      // The live map: a broker started again after a restart knows the things provisioned meanwhile.
      attached: provisioned,
      log: log.child({ part: 'broker' }),
    };
    let broker: Broker = await startBroker(brokerOptions);
    let brokerUp = true;
    stack.push(async () => {
      if (brokerUp) await broker.stop();
    });

    const store = new ShadowStore({ persistPath: path.join(stateDir, 'shadows.json') });
    const cloudClient = await connectCloudClient(broker);
    stack.push(() => cloudClient.endAsync());
    const shadowService: ShadowService = await startShadowService({ client: cloudClient, store, log: log.child({ part: 'shadow' }) });
    stack.push(() => shadowService.stop());
    let persisting = Promise.resolve();
    const persistProvisioned = (): Promise<void> => {
      const snapshot = JSON.stringify(provisioned, null, 2) + '\n';
      persisting = persisting.then(() => writeFileAtomic(provisionedFile, snapshot, 0o600));
      return persisting;
    };
    const ca = await loadCa(pki);
    const identity = await startIdentityService({
      client: cloudClient,
      ca,
      attach: (id, thing) => broker.attach(id, thing),
      templateName: DEVCLOUD_TEMPLATE,
      thingNamePrefix: THING_NAME_PREFIX,
      ...(opts.allowedSerials ? { allowedSerials: new Set(opts.allowedSerials.map((s) => s.toUpperCase())) } : {}),
      registry: devcloudThingRegistry({ stateDir, crlPath: pki.crlPath, ca, attached: provisioned, persist: persistProvisioned, broker: () => broker }),
      onRegistered: async (r: Registration) => {
        // What the deployed template does: the thing attribute enrolledAt (the viewer API's event floor).
        await writeEnrolment(stateDir, r.thingName, r.enrolledAt);
        provisioned[r.identity] = r.thingName;
        return persistProvisioned();
      },
      ...(opts.now ? { now: opts.now } : {}),
      log: log.child({ part: 'identity' }),
    });
    stack.push(() => identity.stop());

    const credentials = secrets.s3;
    // Each camera's own self-signed HTTPS certificate, kept in the state dir so a pin survives restarts.
    const cameraNames = [...things, ...claimNames];
    const cameraCerts = await Promise.all(
      cameraNames.map((thing, i) =>
        ensureSelfSignedServerCertificate(path.join(stateDir, 'pki', 'cameras'), thing, { commonName: serialOf(thing, i, things.length), dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }),
      ),
    );
    const [dataPlane, s3, ...cameraList] = await Promise.all([
      // SigV4 checked against the cloud principal's key pair, as AWS checks the Lambda role's.
      startDataPlaneApi({ store, credentials: secrets.s3, log: log.child({ part: 'data-plane' }) }),
      startS3({ rootDir: path.join(stateDir, 's3'), buckets: [DEVCLOUD_BUCKET, DEVCLOUD_RELEASE_BUCKET], credentials: [credentials], region: DEVCLOUD_REGION, log: log.child({ part: 's3' }) }),
      ...cameraNames.map((thing, i) =>
        startCameraSimulator({
          name: thing,
          username: CAMERA_USER,
          password: secrets.cameraPasswords[thing]!,
          identity: { serialNumber: serialOf(thing, i, things.length) },
          profile: opts.cameraProfiles?.[i % opts.cameraProfiles.length] ?? DEFAULT_CAMERA_PROFILE,
          tls: cameraCerts[i]!,
          ...(opts.serviceAccounts ? { serviceAccountHost: '127.0.0.12' } : {}),
          log: log.child({ part: 'camera', thing }),
        }),
      ),
    ]);
    stack.push(() => dataPlane.stop(), () => s3.stop(), ...cameraList.map((c) => () => c.stop()));
    const cameras = new Map(cameraNames.map((t, i) => [t, cameraList[i]!]));
    const buses = new Map<string, ServiceAccountBus>();
    for (const [thing, camera] of opts.serviceAccounts ? cameras : []) {
      const accounts = camera.serviceAccounts!;
      const bus = await startServiceAccountBus({ dir: path.join(stateDir, 'dbus', thing), issue: (name) => accounts.issue(name) });
      stack.push(() => bus.stop());
      buses.set(thing, bus);
    }

    const handler = createCloudHandler({
      region: DEVCLOUD_REGION,
      bucket: DEVCLOUD_BUCKET,
      shadowName: DEFAULT_SHADOW_NAME,
      expiresSeconds: opts.expiresSeconds ?? 300,
      maxBytes: 5 * 1024 * 1024,
      s3Endpoint: s3.url,
      iotDataEndpoint: dataPlane.url,
      credentials,
    });
    stack.push(async () => handler.destroy());
    const rules = await startCloudRules({ client: cloudClient, handler, store, shadowName: DEFAULT_SHADOW_NAME, log: log.child({ part: 'rules' }) });
    stack.push(() => rules.stop());

    // Jobs: state in DIR/jobs.json; documents delivered with presigned GETs of the S3 stand-in's release bucket.
    const jobs = new JobStore({
      persistPath: path.join(stateDir, 'jobs.json'),
      ...(opts.jobsMinuteMs !== undefined ? { minuteMs: opts.jobsMinuteMs } : {}),
      thingExists: (thing) => things.includes(thing) || Object.values(provisioned).includes(thing),
      presignableBuckets: [DEVCLOUD_RELEASE_BUCKET],
      log: log.child({ part: 'jobs' }),
    });
    stack.push(async () => jobs.stop());
    const presignClient = createS3Client({ region: DEVCLOUD_REGION, credentials, s3Endpoint: s3.url });
    stack.push(async () => presignClient.destroy());
    const jobsService = await startJobsService({
      client: cloudClient,
      store: jobs,
      presign: (bucket, key, seconds) => createBucket(presignClient, bucket).presignGet(key, seconds),
      log: log.child({ part: 'jobs' }),
    });
    stack.push(() => jobsService.stop());

    const control = await startControlApi({ cameras, s3, handler, jobs, log: log.child({ part: 'control' }) });
    stack.push(() => control.stop());

    // Live view: KVS signalling and the IoT credentials provider share one registry of key pairs. The
    // viewer API signs with devcloud's one cloud principal; cameras get role sessions for their thing.
    const iam = new CredentialsRegistry();
    iam.addLongTerm(credentials, { kind: 'viewer-api' });
    const [serverCert, serverKey, caPem, crlPem] = await Promise.all([readText(pki.server.certPath), readText(pki.server.keyPath), readText(pki.caCertPath), readText(pki.crlPath)]);
    const kvs = await startKvs({ region: DEVCLOUD_REGION, registry: iam, tls: { cert: serverCert, key: serverKey }, log: log.child({ part: 'kvs' }) });
    stack.push(() => kvs.stop());
    const viewer = await startDevcloudViewer({
      stateDir,
      s3,
      bucket: DEVCLOUD_BUCKET,
      region: DEVCLOUD_REGION,
      credentials,
      dataPlaneUrl: dataPlane.url,
      shadowName: DEFAULT_SHADOW_NAME,
      handler,
      thumbnails: opts.thumbnails ?? true,
      // Things enrolled by claim appear as they register.
      things: () => [...things, ...Object.values(provisioned)],
      // The go-live request: devcloud's cloud client stands in for the IoT data plane's Publish.
      live: {
        kvsControlUrl: kvs.controlUrl,
        signallingUrl: kvs.signallingUrl,
        ca: caPem,
        publish: async (thing, request) => void (await cloudClient.publishAsync(liveRequestTopic(thing), JSON.stringify(request), { qos: 1 })),
        browserTrust: { signallingCertificate: serverCert, caPath: pki.caCertPath },
      },
      log: log.child({ part: 'viewer' }),
    });
    stack.push(() => viewer.stop());

    const credentialsProvider = await startIotCredentialsProvider({
      tls: { cert: serverCert, key: serverKey, ca: caPem, crl: crlPem },
      registry: iam,
      // The live map: a certificate deactivated by re-enrolment is no longer any thing's.
      thingOf: (identity) => (isThingName(identity) ? identity : provisioned[identity]),
      ...(opts.liveCredentialSeconds !== undefined ? { credentialSeconds: opts.liveCredentialSeconds } : {}),
      log: log.child({ part: 'iot-credentials' }),
    });
    stack.push(() => credentialsProvider.stop());

    const releaseKey = await ensureDevReleaseKey(stateDir);
    const agentConfigs = await writeAgentConfigs({ stateDir, things, pki, broker, s3Url: s3.url, cameras, overrides: opts.agentOverrides ?? {}, claim: { cameras: claimNames, templateName: DEVCLOUD_TEMPLATE },
      releaseKeyPath: releaseKey.publicKeyPath,
      live: { kvsUrl: kvs.controlUrl, credentialsUrl: credentialsProvider.url, roleAlias: credentialsProvider.roleAlias, region: DEVCLOUD_REGION },
    });

    const info: DevcloudInfo = {
      schema: 1,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      stateDir,
      region: DEVCLOUD_REGION,
      shadowName: DEFAULT_SHADOW_NAME,
      mqtt: { url: broker.url, host: broker.host, port: broker.port, broker: broker.kind, mqttVersions: [...broker.mqttVersions] },
      caPath: pki.caCertPath,
      cloud: { clientId: CLOUD_IDENTITY, certPath: pki.cloud.certPath, keyPath: pki.cloud.keyPath },
      devices: Object.fromEntries(things.map((t) => [t, { ...pki.devices[t]!, agentConfigPath: agentConfigs[t]! }])),
      dataPlane: { url: dataPlane.url, region: DEVCLOUD_REGION, ...credentials },
      s3: { url: s3.url, bucket: DEVCLOUD_BUCKET, releaseBucket: DEVCLOUD_RELEASE_BUCKET, region: DEVCLOUD_REGION, ...credentials, dir: path.join(stateDir, 's3') },
      cameras: Object.fromEntries(
        [...cameras].map(([t, c], i) => {
          const bus = buses.get(t);
          const serviceAccount = bus && c.serviceAccounts ? { serviceAccount: { busAddress: bus.address, url: c.serviceAccounts.url } } : {};
          return [
            t,
            {
              url: c.url,
              httpUrl: c.httpUrl,
              rtspPort: c.rtsp.port,
              rtspUrl: c.rtsp.url,
              fingerprint256: c.fingerprint256 ?? '',
              certPath: cameraCerts[i]!.certPath,
              username: c.username,
              password: c.password,
              serialNumber: c.identity.serialNumber,
              model: c.identity.model,
              architecture: c.identity.architecture,
              profile: c.profile,
              ...serviceAccount,
            },
          ];
        }),
      ),
      control: { url: control.url },
      provisioning: { templateName: DEVCLOUD_TEMPLATE, thingNamePrefix: THING_NAME_PREFIX, claimCertPath: pki.claim.certPath, claimKeyPath: pki.claim.keyPath },
      claimCameras: Object.fromEntries(claimNames.map((c) => [c, { agentConfigPath: agentConfigs[c]!, serialNumber: cameras.get(c)!.identity.serialNumber }])),
      viewer: { url: viewer.url, username: viewer.username, password: viewer.password },
      live: {
        kvs: { controlUrl: kvs.controlUrl, signallingUrl: kvs.signallingUrl, region: DEVCLOUD_REGION },
        credentialsProvider: { url: credentialsProvider.url, roleAlias: credentialsProvider.roleAlias },
      },
    };
    await writeFileAtomic(infoFile, JSON.stringify(info, null, 2) + '\n', 0o600);
    stack.push(() => rm(infoFile, { force: true }));

    let stopped: Promise<void> | undefined;
    const stopBrokerNow = async (o: { kill?: boolean } = {}): Promise<void> => {
      if (!brokerUp) return;
      brokerUp = false;
      await (o.kill ? broker.kill() : broker.stop());
    };
    const startBrokerAgain = async (): Promise<void> => {
      if (brokerUp) return;
      broker = await startBroker({ ...brokerOptions, kind: broker.kind, port: broker.port });
      brokerUp = true;
      // The shadow service and the rules are back (resubscribed) when their client has reconnected.
      if (!cloudClient.connected) {
        const ac = new AbortController();
        await Promise.race([new Promise((resolve) => cloudClient.once('connect', resolve)), delay(5000, undefined, { signal: ac.signal }).catch(() => undefined)]);
        ac.abort();
      }
    };
    return {
      info,
      pki,
      get broker() {
        return broker;
      },
      stopBroker: stopBrokerNow,
      startBroker: startBrokerAgain,
      restartBroker: async (o) => {
        await stopBrokerNow(o);
        await startBrokerAgain();
      },
      store,
      jobs,
      dataPlane,
      s3,
      cameras,
      handler,
      rules,
      identity,
      viewer,
      live: { kvs, credentialsProvider, iam },
      stop: () => (stopped ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
