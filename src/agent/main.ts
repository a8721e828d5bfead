import type { Logger } from 'pino';
import { loadAgentConfig, type AgentConfig } from './config/index.js';
import { createAgentLogging } from './logging.js';
import { parseSyslogUrl } from './syslog.js';
import { createConnection, type AgentConnection } from './connection.js';
import { RequestJournal } from './request-journal.js';
import { secureStateDirs } from './state-dir.js';
import { allowListProblem } from './upload-target.js';
import type { Feature, FeatureContext } from './feature.js';
import { connectRounds, notifyDisconnected, stopInReverse } from './feature-calls.js';
import { createPresenceFeature, presenceMessage } from './features/presence.js';
import { createSnapshotFeature, type SnapshotEvents } from './features/snapshot/feature.js';
import { createScheduleFeature } from './features/schedule.js';
import { createLocalApiFeature } from './features/local-api.js';
import { ensureIdentity } from './provisioning/provisioning.js';
import { certificateIdOf, readInstalledIdentity } from './provisioning/identity-store.js';
import { createIdentityTrial } from './provisioning/identity-trial.js';
import { readFileSync } from 'node:fs';
import { AGENT_VERSION } from './version.js';
import { tuneRuntimeForDevice } from './runtime-tuning.js';
import { waitForStopSignal } from '../lib/signals.js';
import type { EventsFeature } from './features/events/feature.js';
import { createLiveFeature, type LiveFeature } from './features/live/feature.js';
import { VapixClient } from '../protocol/vapix/client.js';
import { chooseCameraAccess } from './camera-access.js';
import { presenceTopic } from '../protocol/topics.js';
import { installHeapProbe } from './heap-probe.js';
import { createAgentJobsFeature } from './features/jobs/agent-jobs.js';
import { startUpdater } from './update/setup.js';
import { appLayout } from './packaged-app.js';

export interface RunningAgent {
  readonly config: AgentConfig;
  readonly connection: AgentConnection;
  readonly log: Logger;
  /** What every feature was given. */
  readonly context: FeatureContext;
  /** The local API's loopback URL (undefined if it could not listen). */
  localApiUrl(): string | undefined;
  /** Resolves (with why) when a job asked for a restart: stop the agent; its supervisor starts it again. */
  readonly restartRequested: Promise<string>;
  stop(): Promise<void>;
}

/** Wires the features to one connection and starts them; the caller decides when to stop. */
export async function startAgent(
  configured: AgentConfig,
  opts: { log?: Logger; events?: SnapshotEvents; signal?: AbortSignal; provisioningReplyTimeoutMs?: number; /** The device clock (tests shift it). */ now?: () => Date } = {},
): Promise<RunningAgent> {
  const noAllowList = allowListProblem(configured.snapshot.allowedUploadHosts);
  if (noAllowList) throw new Error(noAllowList);
  // Fleet provisioning by claim, when configured and the camera has no identity yet: before anything
  // connects, since the thing name (client id, topics) comes out of it. Until then lines carry the
  // configured name, or 'unprovisioned'.
  let logging = opts.log ? undefined : createAgentLogging(loggingOptions({ ...configured, thingName: configured.thingName || 'unprovisioned' }));
  const early = opts.log ?? logging!.log;
  await secureStateDirs(configured.stateDir, early);
  const access = await chooseCameraAccess(configured.camera, { log: early });
  const camera = new VapixClient({ baseUrl: access.baseUrl, credentials: access.credentials, timeoutMs: configured.snapshot.captureTimeoutMs });
  // As early as it can be: a pending update's rollback watch runs whether or not this version gets further.
  const cloud: { now?: { link: AgentConnection; thing: string } } = {};
  let requestRestart: (why: string) => void = () => undefined;
  const restartRequested = new Promise<string>((resolve) => (requestRestart = resolve));
  const updater = await startUpdater({ config: configured, runningVersion: AGENT_VERSION, camera, cloud: () => cloud.now, onCamera: appLayout().onCamera, restart: (why) => requestRestart(why), log: early });
  const installed = await useInstalledIdentity(configured, early);
  const config = await ensureIdentity(installed.config, {
    log: early,
    camera,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.provisioningReplyTimeoutMs ? { replyTimeoutMs: opts.provisioningReplyTimeoutMs } : {}),
  });
  if (logging && config.thingName !== configured.thingName) {
    await logging.close();
    logging = createAgentLogging(loggingOptions(config));
  }
  const log = opts.log ?? logging!.log;
  const journal = await RequestJournal.open(config.stateDir);
  const connection = createConnection(config, {
    will: { topic: presenceTopic(config.thingName), payload: presenceMessage('offline', AGENT_VERSION), qos: 1, retain: false },
    log,
  });
  const trial = createIdentityTrial({ connection, stateDir: config.stateDir, boundMs: config.localApi.identityTrialMs, log });
  // Restarted while an installed identity was still on trial: the bound starts again.
  if (installed.onTrial) trial.begin(connection.tlsFiles, certificateIdOf(readFileSync(config.iot.certPath, 'utf8')));
  const context: FeatureContext = { config, thing: config.thingName, connection, camera, cameraAccess: access, version: AGENT_VERSION, log, now: opts.now ?? (() => new Date()) };
  let events: EventsFeature | undefined;
  // The live feature itself is small; werift and the rest load on the first live request (features/live/).
  const live: LiveFeature | undefined = config.live.enabled ? createLiveFeature(context) : undefined;
  const localApi = createLocalApiFeature(context, { trial, eventCounters: () => events?.stats, liveReport: () => live?.report() });
  // Also the order of onConnected: snapshot reads its shadow before presence says online.
  const features: Feature[] = [
    localApi,
    createSnapshotFeature(context, { journal, events: opts.events }),
    createPresenceFeature(context),
    createScheduleFeature(context),
  ];
  // Loaded only when triggers are configured: the event stream's WebSocket client (ws) and the
  // events feature cost idle memory on every camera that does not use them (docs/benchmarks.md).
  if (config.events.triggers.length > 0) {
    const { createEventsFeature } = await import('./features/events/feature.js');
    features.push((events = createEventsFeature(context)));
  }
  if (live) features.push(live);
  cloud.now = { link: connection, thing: config.thingName };
  if (config.jobs.enabled) features.push(createAgentJobsFeature(context, { connection, requestRestart, extraOperations: [updater.operation] }));
  for (const f of features) await f.start();
  // main owns the connection's events; features hear of them through these isolated calls.
  const rounds = connectRounds(features, { isConnected: () => connection.connected, log });
  const onConnected = (): void => rounds.run();
  const onDisconnected = ({ reason }: { reason: string }): void => void notifyDisconnected(features, reason, log);
  connection.on('connected', onConnected);
  connection.on('disconnected', onDisconnected);
  log.info({ event: 'agent.started', version: AGENT_VERSION, endpoint: `${config.iot.endpoint}:${config.iot.port}`, mqtt: config.iot.mqttVersion === 5 ? '5' : '3.1.1' }, 'cloudcam agent started');
  connection.start();

  let stopping: Promise<void> | undefined;
  return {
    config,
    connection,
    log,
    context,
    localApiUrl: () => localApi.url(),
    restartRequested,
    stop: () =>
      (stopping ??= (async () => {
        connection.off('connected', onConnected);
        connection.off('disconnected', onDisconnected);
        trial.stop();
        updater.stop();
        // Reverse order: the schedule stops asking, the snapshot in flight finishes or is abandoned
        // and reported, then presence goes offline and the connection closes.
        await stopInReverse(features, log);
        await connection.stop({ finalMessage: { topic: presenceTopic(config.thingName), payload: presenceMessage('offline', AGENT_VERSION) }, timeoutMs: 3000 });
        log.info({ event: 'agent.stopped' }, 'cloudcam agent stopped');
        await logging?.close();
      })()),
  };
}

/** Logging as configured: stdout in log.format, plus the syslog collector if log.syslog.url is set. */
export function loggingOptions(config: AgentConfig): Parameters<typeof createAgentLogging>[0] {
  const target = parseSyslogUrl(config.log.syslog.url);
  return {
    level: config.log.level,
    format: config.log.format,
    thing: config.thingName,
    secrets: [config.camera.password],
    ...(target ? { syslog: { ...target, facility: config.log.syslog.facility, appName: config.log.syslog.appName } } : {}),
  };
}

/**
 * A certificate installed with `cloudcam setup certs` (STATE_DIR/identity/) wins over the configured
 * iot.* files, so it survives restarts; deleting that folder returns to the configured files.
 */
async function useInstalledIdentity(config: AgentConfig, log: Logger): Promise<{ config: AgentConfig; onTrial: boolean }> {
  const installed = await readInstalledIdentity(config.stateDir, config.iot.caPath);
  if (installed === undefined) return { config, onTrial: false };
  if ('broken' in installed) {
    log.warn({ event: 'certs.installed-unusable', why: installed.broken }, `ignoring the installed certificate (${installed.broken}); using iot.certPath. Install it again with cloudcam setup certs`);
    return { config, onTrial: false };
  }
  log.info({ event: 'certs.using-installed', certPath: installed.certPath }, `using the certificate installed with cloudcam setup certs (${installed.certPath})`);
  const { trial, ...files } = installed;
  return { config: { ...config, iot: { ...config.iot, ...files } }, onTrial: trial };
}

/** `cloudcam agent --config FILE`: runs until SIGTERM/SIGINT, then stops cleanly and exits 0. */
export async function runAgent(configFile: string | undefined): Promise<number> {
  // Before the settings are read, for the reason given in bin.ts.
  tuneRuntimeForDevice();
  return runAgentUntilSignal(loadAgentConfig(configFile));
}

/** Starts the agent and runs it until SIGTERM/SIGINT, then stops it cleanly; resolves with the exit code. */
export async function runAgentUntilSignal(config: AgentConfig, log?: Logger): Promise<number> {
  // Process-wide V8 settings belong to the agent's own process, not to every caller of startAgent
  // (tests run the agent beside devcloud in one process).
  tuneRuntimeForDevice();
  const stopSignal = waitForStopSignal(); // before start-up, so an early SIGTERM still stops cleanly
  // A signal during start-up (enrolment can wait a long time for the network) abandons it cleanly.
  const startup = new AbortController();
  void stopSignal.then(() => startup.abort(new Error('stopped during start-up')));
  let agent: RunningAgent;
  try {
    agent = await startAgent(config, { signal: startup.signal, ...(log ? { log } : {}) });
  } catch (err) {
    if (startup.signal.aborted) return 0;
    throw err;
  }
  const probe = installHeapProbe(agent.log);
  // A restart job stops the agent the same clean way as SIGTERM; the exit makes the supervisor
  // (ACAP runMode respawn, systemd Restart=always) start it again.
  const why = await Promise.race([stopSignal.then((signal) => ({ signal })), agent.restartRequested.then((restart) => ({ restart }))]);
  probe?.stop();
  if ('signal' in why) agent.log.info({ event: 'agent.signal', signal: why.signal }, `received ${why.signal}; stopping`);
  else agent.log.info({ event: 'agent.restarting', why: why.restart }, `restarting for ${why.restart}: stopping; the supervisor starts the agent again`);
  await agent.stop();
  return 0;
}
