import type { AgentConfig } from '../../config/index.js';
import type { AgentConnection } from '../../connection.js';
import type { Logger } from '../../../lib/log.js';
import type { VapixClient } from '../../../protocol/vapix.js';
import { createEventUploader } from '../events/uploader.js';
import { createJobsFeature, type JobsFeature } from './feature.js';
import { createShadowGrantSource } from './grant-source.js';
import type { JobOperation } from './operation.js';
import { createRestartOperation } from './restart-operation.js';
import { createSnapshotOperation } from './snapshot-operation.js';

/** How long a diagnostics snapshot waits for an upload grant it had to ask for. */
const GRANT_WAIT_MS = 30_000;

/** The jobs feature with the agent's operations (restart, diagnostics snapshot, plus `extra`), from the agent's config. */
export function createAgentJobsFeature(o: {
  config: AgentConfig;
  connection: AgentConnection;
  camera: VapixClient;
  log: Logger;
  /** Stops the agent cleanly so that its supervisor starts it again. */
  requestRestart: (why: string) => void;
  extraOperations?: readonly JobOperation[];
}): JobsFeature {
  const { config, connection } = o;
  const snap = config.snapshot;
  const grants = createShadowGrantSource({ connection, thing: config.thingName, shadowName: config.shadowName, waitMs: GRANT_WAIT_MS, log: o.log.child({ feature: 'jobs' }) });
  const uploader = createEventUploader({ target: { allowedHosts: snap.allowedUploadHosts, insecureHttpHosts: snap.insecureHttpUploadHosts }, timeoutMs: snap.uploadTimeoutMs });
  const operations: JobOperation[] = [
    createRestartOperation({ requestRestart: o.requestRestart }),
    createSnapshotOperation({
      thing: config.thingName,
      grant: (signal) => grants.usable(signal),
      capture: async (signal) => (await o.camera.captureJpeg({ resolution: snap.resolution, compression: snap.compression, maxBytes: snap.maxBytes, signal })).jpeg,
      upload: (grant, entry, jpeg, signal) => uploader.upload(grant, entry, jpeg, signal),
    }),
    ...(o.extraOperations ?? []),
  ];
  return createJobsFeature({
    connection,
    thing: config.thingName,
    operations,
    stepTimeoutMinutes: config.jobs.stepTimeoutMinutes,
    log: o.log,
    onStop: () => {
      grants.close();
      uploader.close();
    },
  });
}
