/**
 * Builds the update machinery for one agent process from its config: which layout it runs in
 * (ACAP app, gateway launcher, or neither), the trusted release keys, the records, the rollback
 * watch (started now, before anything connects) and the `cloudcam.update` job operation.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/index.js';
import type { JobOperation } from '../features/jobs/operation.js';
import { loadReleaseKeys, type ReleaseKeys } from '../../protocol/release-signature.js';
import { agentArchitecture } from '../../protocol/update-document.js';
import type { VapixClient } from '../../protocol/vapix/client.js';
import type { MqttLink } from '../../protocol/shadow-client.js';
import { createAcapInstaller } from './acap-installer.js';
import { createGatewayInstaller, GATEWAY_ROOT_ENV } from './gateway-installer.js';
import type { Installer } from './installer.js';
import { createUpdateOperation } from './operation.js';
import { UpdateRecords } from './records.js';
import { startUpdateWatch, type UpdateWatch } from './rollback-watch.js';
import { createSelfCheck } from './self-check.js';

export interface Updater {
  readonly operation: JobOperation;
  readonly watch: UpdateWatch;
  stop(): void;
}

export interface UpdaterDeps {
  config: AgentConfig;
  runningVersion: string;
  camera: VapixClient;
  /** The connection and thing name once they exist (the watch starts before either). */
  cloud: () => { link: MqttLink; thing: string } | undefined;
  /** An installed ACAP app (appLayout().onCamera). */
  onCamera: boolean;
  restart: (reason: string) => void;
  log: Logger;
  env?: NodeJS.ProcessEnv;
}

/** The layout's installer and where its records live; none when not started from an installed package. */
export function chooseInstaller(deps: Pick<UpdaterDeps, 'config' | 'camera' | 'onCamera' | 'env'>): { installer: Installer | undefined; updateDir: string } {
  const root = (deps.env ?? process.env)[GATEWAY_ROOT_ENV];
  if (root) {
    // Shared with the launcher, which reads {root}/update/pending.
    return { installer: createGatewayInstaller({ root }), updateDir: path.join(root, 'update') };
  }
  const updateDir = path.join(deps.config.stateDir, 'update');
  if (deps.onCamera) return { installer: createAcapInstaller({ camera: deps.camera, updateDir }), updateDir };
  return { installer: undefined, updateDir };
}

export async function startUpdater(deps: UpdaterDeps): Promise<Updater> {
  const { config, log } = deps;
  let keys: ReleaseKeys;
  try {
    keys = loadReleaseKeys(config.update.releaseKeysDir || undefined, config.update.extraReleaseKeyPath ? [config.update.extraReleaseKeyPath] : []);
  } catch (err) {
    // A broken key file must not stop the agent: it only cannot update until fixed.
    log.error({ event: 'update.keys-unusable', err: (err as Error).message }, `release keys unusable, every update will be refused: ${(err as Error).message}`);
    keys = new Map();
  }
  const { installer, updateDir } = chooseInstaller(deps);
  const records = new UpdateRecords(updateDir);
  const watch = await startUpdateWatch({ records, installer, runningVersion: deps.runningVersion, restart: deps.restart, log });
  const operation = createUpdateOperation({
    runningVersion: deps.runningVersion,
    architecture: agentArchitecture(),
    keys,
    installer,
    records,
    watch,
    policy: { allowedHosts: config.update.allowedDownloadHosts, insecureHttpHosts: config.update.insecureHttpDownloadHosts },
    maxPackageBytes: config.update.maxPackageBytes,
    downloadTimeoutMs: config.update.downloadTimeoutMs,
    connectBoundMs: config.update.connectBoundMs,
    maxStarts: config.update.maxStarts,
    selfCheck: (signal) => {
      const cloud = deps.cloud();
      if (!cloud) return Promise.resolve('the agent has no connection yet');
      return createSelfCheck({ ...cloud, shadowName: config.shadowName, camera: deps.camera, timeoutMs: 10_000 })(signal);
    },
    restart: deps.restart,
    log,
  });
  log.info(
    { event: 'update.ready', layout: installer?.kind ?? 'none', keys: [...keys.keys()] },
    installer ? `updates: ${installer.kind} layout, release keys ${[...keys.keys()].join(', ') || '(none: every update is refused)'}` : 'updates: not started from an installed package; cloudcam.update jobs are rejected',
  );
  return { operation, watch, stop: () => watch.stop() };
}
