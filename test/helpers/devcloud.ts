import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../src/lib/log.js';
import { startDevcloud, type Devcloud } from '../../src/devcloud/devcloud.js';
import type { BrokerKind } from '../../src/devcloud/broker/index.js';
import type { CameraProfileName } from '../../src/devcloud/camera/profiles.js';
import { findMosquitto } from '../../src/devcloud/broker/index.js';
import { loadAgentConfig, type AgentConfig } from '../../src/agent/config/index.js';
import { startAgent, type RunningAgent } from '../../src/agent/main.js';
import { createAgentLogger } from '../../src/agent/logging.js';
import type { SnapshotReport, SnapshotRequest } from '../../src/protocol/snapshot.js';
import { whyNotRequested, type HandleResult } from '../../src/cloud/handler.js';
import type { UpdateResult } from '../../src/devcloud/shadow/store.js';

export const HAS_MOSQUITTO = findMosquitto() !== undefined;

/** The broker/MQTT combinations the integration suites run on. */
export const MQTT_MATRIX: { broker: BrokerKind; mqttVersion: 5 | 4; label: string }[] = [
  ...(HAS_MOSQUITTO ? [{ broker: 'mosquitto' as const, mqttVersion: 5 as const, label: 'mosquitto, MQTT 5' }] : []),
  { broker: 'aedes', mqttVersion: 4, label: 'aedes, MQTT 3.1.1' },
];

export interface TestDevcloud {
  dc: Devcloud;
  dir: string;
  cleanup(): Promise<void>;
}

export async function startTestDevcloud(opts: {
  broker: BrokerKind;
  cameras?: number;
  expiresSeconds?: number;
  claimCameras?: number;
  allowedSerials?: string[];
  now?: () => number;
  serviceAccounts?: boolean;
  /** The viewer's thumbnails (S3 GETs and POSTs of their own): off unless a suite asks for them. */
  thumbnails?: boolean;
  /** Length of a Jobs-service minute (timeouts, rollout rate). */
  jobsMinuteMs?: number;
  /** Reuse a state dir (a devcloud restart); default: a new temp dir. */
  dir?: string;
  /** The firmware profile of each camera, in camera order (devcloud's `cameraProfiles`); default axis-os-12. */
  cameraProfiles?: CameraProfileName[];
}): Promise<TestDevcloud> {
  const dir = opts.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'cloudcam-dc-')));
  const dc = await startDevcloud({
    stateDir: dir,
    cameras: opts.cameras ?? 1,
    broker: opts.broker,
    log: createLogger({ name: 'devcloud', level: 'silent' }),
    ...(opts.expiresSeconds ? { expiresSeconds: opts.expiresSeconds } : {}),
    ...(opts.claimCameras ? { claimCameras: opts.claimCameras } : {}),
    ...(opts.allowedSerials ? { allowedSerials: opts.allowedSerials } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.serviceAccounts ? { serviceAccounts: true } : {}),
    thumbnails: opts.thumbnails ?? false,
    ...(opts.jobsMinuteMs !== undefined ? { jobsMinuteMs: opts.jobsMinuteMs } : {}),
    ...(opts.cameraProfiles ? { cameraProfiles: opts.cameraProfiles } : {}),
  });
  return {
    dc,
    dir,
    cleanup: async () => {
      await dc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TestAgent {
  agent: RunningAgent;
  config: AgentConfig;
  /** Every log line the agent wrote, parsed. */
  logs: Record<string, unknown>[];
  reports: SnapshotReport[];
  /** Resolves with the first log line (already written or to come) that matches. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/**
 * Runs the real agent in-process against a devcloud thing (or a claim camera, claim-N, which enrols
 * first), with its JSON logs captured.
 */
export async function startTestAgent(dc: Devcloud, thing: string, overrides: (c: AgentConfig) => void = () => undefined, opts: { now?: () => Date } = {}): Promise<TestAgent> {
  const configPath = dc.info.devices[thing]?.agentConfigPath ?? dc.info.claimCameras[thing]?.agentConfigPath;
  if (!configPath) throw new Error(`devcloud has no camera ${thing}`);
  const config = loadAgentConfig(configPath, {});
  config.schedule.cron = '';
  overrides(config);
  const logs: Record<string, unknown>[] = [];
  const lines = new EventEmitter<{ line: [Record<string, unknown>] }>();
  const out = new PassThrough();
  out.on('data', (chunk: Buffer) => {
    for (const text of chunk.toString('utf8').split('\n')) {
      if (!text) continue;
      const line = JSON.parse(text) as Record<string, unknown>;
      logs.push(line);
      lines.emit('line', line);
    }
  });
  const waitForLog = (match: (line: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> => {
    const seen = logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        lines.off('line', onLine);
        reject(new Error(`no matching agent log line within ${timeoutMs} ms`));
      }, timeoutMs);
      const onLine = (line: Record<string, unknown>): void => {
        if (!match(line)) return;
        clearTimeout(timer);
        lines.off('line', onLine);
        resolve(line);
      };
      lines.on('line', onLine);
    });
  };
  const reports: SnapshotReport[] = [];
  const log = createAgentLogger({ level: 'debug', format: 'json', thing, out });
  const agent = await startAgent(config, { log, events: { onReport: (r) => reports.push(r) }, ...opts });
  return { agent, config, logs, reports, waitForLog, stop: () => agent.stop() };
}

/**
 * Resolves with the stored `reported.snapshot` after the first update that writes a report for `id`.
 * Shadow semantics: `error: null` in the update deletes the key, so a success has no `error`.
 */
export function waitForReport(dc: Devcloud, thing: string, id: string, timeoutMs = 20_000): Promise<SnapshotReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      dc.store.off('updated', onUpdate);
      reject(new Error(`no report for ${id} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onUpdate = (key: { thing: string }, result: UpdateResult): void => {
      // Only an update that writes a report counts, not any update of a shadow that holds one.
      const written = (result.accepted.state['reported'] as { snapshot?: { id?: unknown } } | undefined)?.snapshot;
      const stored = (result.documents.current.state.reported as { snapshot?: SnapshotReport } | undefined)?.snapshot;
      if (key.thing === thing && written?.id === id && stored) {
        clearTimeout(timer);
        dc.store.off('updated', onUpdate);
        resolve(stored);
      }
    };
    dc.store.on('updated', onUpdate);
  });
}

/** Resolves when the agent's connection reports connected. */
export function waitForConnected(a: TestAgent): Promise<void> {
  if (a.agent.connection.connected) return Promise.resolve();
  return new Promise((resolve) => a.agent.connection.once('connected', () => resolve()));
}

/** Writes a request into the thing's shadow, as the cloud handler does (through the same store). */
export function putRequest(dc: Devcloud, thing: string, request: SnapshotRequest | Record<string, unknown>): void {
  dc.store.update({ thing, shadow: dc.info.shadowName }, JSON.stringify({ state: { desired: { snapshot: request } } }));
}

export function desiredSnapshot(dc: Devcloud, thing: string): unknown {
  const doc = dc.store.get({ thing, shadow: dc.info.shadowName }) as { state: { desired?: { snapshot?: unknown } } };
  return doc.state.desired?.snapshot;
}

/** The next request the cloud rules write for `thing` (e.g. answering presence `online`), once it is in the shadow. */
export function nextCloudRequest(dc: Devcloud, thing: string): Promise<SnapshotRequest> {
  return new Promise((resolve) => {
    const on = (r: HandleResult): void => {
      if (r.action !== 'requested' || r.thing !== thing) return;
      dc.rules.off('handled', on);
      resolve(r.request);
    };
    dc.rules.on('handled', on);
  });
}

/** Requests a snapshot through the cloud handler (as an operator would) and returns the request. */
export async function requestSnapshot(dc: Devcloud, thing: string): Promise<SnapshotRequest> {
  const r = await dc.handler.handle({ kind: 'snapshot', thing, reason: 'test' });
  if (r.action !== 'requested') throw new Error(`handler did not request: ${whyNotRequested(r)}`);
  return r.request;
}
