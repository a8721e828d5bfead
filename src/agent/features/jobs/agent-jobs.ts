import type { AgentConnection } from '../../connection.js';
import type { FeatureContext } from '../../feature.js';
import { createCaptureStep } from '../pipeline/capture.js';
import { createEventUploader } from '../events/uploader.js';
import { createJobsFeature, type JobsFeature } from './feature.js';
import { createShadowGrantSource } from './grant-source.js';
import type { JobOperation } from './operation.js';
import { createRestartOperation } from './restart-operation.js';
import { createSnapshotOperation } from './snapshot-operation.js';

/** How long a diagnostics snapshot waits for an upload grant it had to ask for. */
const GRANT_WAIT_MS = 30_000;

/** The jobs feature with the agent's operations (restart, diagnostics snapshot, plus `extra`), from the agent's config. */
export function createAgentJobsFeature(
  ctx: FeatureContext,
  o: {
    /** The whole connection: the feature unsubscribes a finished job's reply topics. */
    connection: AgentConnection;
    /** Stops the agent cleanly so that its supervisor starts it again. */
    requestRestart: (why: string) => void;
    extraOperations?: readonly JobOperation[];
  },
): JobsFeature {
  const { config, thing } = ctx;
  const { connection } = o;
  const snap = config.snapshot;
  const capture = createCaptureStep(ctx.camera, snap);
  const grants = createShadowGrantSource({ connection, thing, shadowName: config.shadowName, waitMs: GRANT_WAIT_MS, log: ctx.log.child({ feature: 'jobs' }), now: ctx.now });
  const uploader = createEventUploader({ target: { allowedHosts: snap.allowedUploadHosts, insecureHttpHosts: snap.insecureHttpUploadHosts }, timeoutMs: snap.uploadTimeoutMs });
  const operations: JobOperation[] = [
    createRestartOperation({ requestRestart: o.requestRestart }),
    createSnapshotOperation({
      thing,
      grant: (signal) => grants.usable(signal),
      capture: (signal) => capture({}, signal),
      upload: (grant, entry, jpeg, signal) => uploader.upload(grant, entry, jpeg, signal),
    }),
    ...(o.extraOperations ?? []),
  ];
  return createJobsFeature({
    connection,
    thing,
    operations,
    stepTimeoutMinutes: config.jobs.stepTimeoutMinutes,
    log: ctx.log,
    onStop: () => {
      grants.close();
      uploader.close();
    },
  });
}
