/**
 * The fleet simulation (`make fleet`, docs/fleet.md): devcloud plus N real agents in this one
 * process, each through `startAgent` with its own mutual-TLS connection, state dir and simulated
 * camera; half enrol by claim. All come online, every camera gets K snapshot requests through the
 * cloud handler, the broker is killed and restarted half-way, and the outcome is counted from the
 * shadows and S3 only (FleetLedger).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { startDevcloud, type Devcloud } from '../devcloud/devcloud.js';
import type { BrokerKind } from '../devcloud/broker/index.js';
import type { UpdateResult } from '../devcloud/shadow/store.js';
import { whyNotRequested } from '../cloud/handler.js';
import { createLogger } from '../lib/log.js';
import { loadAgentConfig } from '../agent/config/index.js';
import { createAgentLogger } from '../agent/logging.js';
import { startAgent, type RunningAgent } from '../agent/main.js';
import { FleetLedger, type FleetLedgerSummary } from './fleet-ledger.js';

export interface FleetOptions {
  cameras: number;
  /** Snapshot requests per camera, one after the other. */
  snapshots: number;
  broker: BrokerKind;
  /** Bound on each wait (all online, one request settling, the broker restart's recovery). */
  waitMs?: number;
  /** Progress lines. */
  progress?: (line: string) => void;
}

export interface FleetFigures {
  cameras: number;
  claimCameras: number;
  broker: BrokerKind;
  devcloudStartMs: number;
  online: number;
  onlineMs: number;
  /** Operator's requests (K per camera) that the handler made. */
  operatorRequests: number;
  ledger: FleetLedgerSummary;
  restartRecoveryMs: number | undefined;
  /** When each camera was back online after the kill, ms after it, ascending: how the jitter spread them. */
  reconnectSpreadMs: number[];
  /** Agents not back online after the restart within waitMs. */
  notRecovered: number;
  /** Warnings and errors the agents logged, by event. */
  agentProblems: Record<string, number>;
  cpuSeconds: { process: number; broker: number | undefined };
  rssMb: { process: number; broker: number | undefined };
  /** Heap used by the agents (after a forced full GC with --expose-gc), per agent, KB: all online, and at the end. */
  heapPerAgentKb: number | undefined;
  heapPerAgentEndKb: number | undefined;
  wallSeconds: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** CPU seconds and RSS of this process's mosquitto child, from /proc (undefined elsewhere or for aedes). */
function brokerProcessUsage(): { cpuSeconds: number; rssMb: number } | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return undefined;
  }
  for (const pid of entries) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      // fields[1] is ppid; [11], [12] utime, stime in clock ticks; [21] rss in pages.
      if (comm !== 'mosquitto' || Number(fields[1]) !== process.pid) continue;
      const ticks = 100;
      return { cpuSeconds: (Number(fields[11]) + Number(fields[12])) / ticks, rssMb: (Number(fields[21]) * 4096) / 1024 / 1024 };
    } catch {
      continue;
    }
  }
  return undefined;
}

function forceGc(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return false;
  gc();
  return true;
}

/** Counts the agents' warn/error lines by event; keeps nothing else (500 agents' debug would be GBs). */
function problemSink(counts: Record<string, number>): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (!text) continue;
        try {
          const line = JSON.parse(text) as { event?: unknown };
          const event = typeof line.event === 'string' ? line.event : 'other';
          counts[event] = (counts[event] ?? 0) + 1;
        } catch {
          counts['unparsable'] = (counts['unparsable'] ?? 0) + 1;
        }
      }
      done();
    },
  });
}

/** When each thing's shadow last learnt it is connected (presence online, republished by the rules). */
class OnlineTracker {
  readonly lastOnline = new Map<string, number>();
  #waiters: { since: number; things: Set<string>; resolve: () => void }[] = [];

  constructor(dc: Devcloud) {
    dc.store.on('updated', (key, result: UpdateResult) => {
      const reported = result.accepted.state['reported'] as { connected?: unknown } | undefined;
      if (reported?.connected !== true) return;
      const now = Date.now();
      this.lastOnline.set(key.thing, now);
      for (const w of this.#waiters) {
        w.things.delete(key.thing);
        if (w.things.size === 0) w.resolve();
      }
      this.#waiters = this.#waiters.filter((w) => w.things.size > 0);
    });
  }

  /** Resolves with the things still not online since `since` after `timeoutMs` (empty: all online). */
  waitAll(things: string[], since: number, timeoutMs: number): Promise<string[]> {
    const missing = new Set(things.filter((t) => (this.lastOnline.get(t) ?? 0) < since));
    if (missing.size === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const waiter = { since, things: missing, resolve: () => undefined as void };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve([...missing]);
      }, timeoutMs);
      waiter.resolve = () => {
        clearTimeout(timer);
        resolve([]);
      };
      this.#waiters.push(waiter);
    });
  }
}

export async function runFleet(opts: FleetOptions): Promise<FleetFigures> {
  const say = opts.progress ?? (() => undefined);
  const waitMs = opts.waitMs ?? 120_000;
  const claimCameras = Math.floor(opts.cameras / 2);
  const started = Date.now();
  const cpuStart = process.cpuUsage();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-fleet-'));
  const dc = await startDevcloud({
    stateDir: dir,
    cameras: opts.cameras - claimCameras,
    claimCameras,
    broker: opts.broker,
    thumbnails: false,
    log: createLogger({ name: 'devcloud', level: 'silent' }),
  });
  const devcloudStartMs = Date.now() - started;
  say(`devcloud up in ${devcloudStartMs} ms (${opts.cameras - claimCameras} cameras with certificates, ${claimCameras} by claim, ${dc.broker.kind})`);
  const ledger = new FleetLedger(dc);
  const online = new OnlineTracker(dc);
  const agentProblems: Record<string, number> = {};
  const agents: RunningAgent[] = [];
  let ticker: NodeJS.Timeout | undefined;
  try {
    forceGc();
    const heapBefore = process.memoryUsage().heapUsed;
    const agentsStarted = Date.now();
    const configPaths = [
      ...Object.values(dc.info.devices).map((d) => d.agentConfigPath),
      ...Object.values(dc.info.claimCameras).map((c) => c.agentConfigPath),
    ];
    let agentsUp = 0;
    const startBound = AbortSignal.timeout(waitMs);
    ticker = setInterval(() => {
      say(`${agentsUp} of ${configPaths.length} agents started, ${dc.identity.registrations.length} claim registrations, ${online.lastOnline.size} things online; agent problems ${JSON.stringify(agentProblems)}`);
    }, 5000);
    const results = await Promise.allSettled(
      configPaths.map(async (file) => {
        const config = loadAgentConfig(file, {});
        config.schedule.cron = '';
        config.iot.mqttVersion = dc.broker.mqttVersions.includes(5) ? 5 : 4;
        const log = createAgentLogger({ level: 'warn', format: 'json', thing: config.thingName || 'unprovisioned', out: problemSink(agentProblems) });
        // Bounded: a claim camera that cannot enrol retries for ever, and the run must end with a reason.
        const agent = await startAgent(config, { log, signal: startBound });
        agents.push(agent);
        agentsUp += 1;
        return agent;
      }),
    );
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) {
      throw new Error(`${failed.length} agents did not start within ${waitMs} ms (claim enrolment?); first: ${(failed[0]!.reason as Error).message}; agent problems ${JSON.stringify(agentProblems)}`);
    }
    const things = agents.map((a) => a.config.thingName);
    const notOnline = await online.waitAll(things, agentsStarted, waitMs);
    const onlineMs = Date.now() - agentsStarted;
    clearInterval(ticker);
    say(`${things.length - notOnline.length} of ${things.length} online in ${onlineMs} ms`);
    if (notOnline.length > 0) throw new Error(`${notOnline.length} cameras not online within ${waitMs} ms: ${notOnline.slice(0, 5).join(', ')}`);
    const heapPerAgent = (): number | undefined => (forceGc() ? Math.round((process.memoryUsage().heapUsed - heapBefore) / things.length / 1024) : undefined);
    const heapPerAgentKb = heapPerAgent();

    // The requests the cloud made on presence settle first, so the operator's are not superseded by them.
    await ledger.quiesce(waitMs);

    const total = things.length * opts.snapshots;
    let done = 0;
    type Recovery = { recoveryMs: number; missing: string[]; spreadMs: number[] };
    let restart: Promise<Recovery> | undefined;
    const restartBroker = async (): Promise<Recovery> => {
      say(`broker killed after ${done} of ${total} operator requests settled`);
      const at = Date.now();
      await dc.restartBroker({ kill: true });
      const missing = await online.waitAll(things, at, waitMs);
      const recoveryMs = Date.now() - at;
      say(`${things.length - missing.length} of ${things.length} back online ${recoveryMs} ms after the kill`);
      const spreadMs = things
        .map((t) => (online.lastOnline.get(t) ?? 0) - at)
        .filter((ms) => ms >= 0)
        .sort((a, b) => a - b);
      return { recoveryMs, missing, spreadMs };
    };
    let operatorRequests = 0;
    await Promise.all(
      things.map(async (thing) => {
        for (let k = 0; k < opts.snapshots; k++) {
          const at = Date.now();
          const r = await dc.handler.handle({ kind: 'snapshot', thing, reason: 'fleet' });
          if (r.action !== 'requested') throw new Error(`the handler did not request a snapshot of ${thing}: ${whyNotRequested(r)}`);
          operatorRequests += 1;
          ledger.add(thing, r.request.id, r.key, at);
          await ledger.waitSettled(r.request.id, waitMs);
          done += 1;
          if (!restart && done >= Math.floor(total / 2)) restart = restartBroker();
        }
      }),
    );
    const recovery = await (restart ?? restartBroker());
    // The requests the cloud made when the cameras came back after the restart.
    await ledger.quiesce(waitMs);

    const heapPerAgentEndKb = heapPerAgent();
    const cpu = process.cpuUsage(cpuStart);
    const broker = brokerProcessUsage();
    return {
      cameras: things.length,
      claimCameras,
      broker: dc.broker.kind,
      devcloudStartMs,
      online: things.length - notOnline.length,
      onlineMs,
      operatorRequests,
      ledger: ledger.summary(),
      restartRecoveryMs: recovery.missing.length === 0 ? recovery.recoveryMs : undefined,
      notRecovered: recovery.missing.length,
      reconnectSpreadMs: recovery.spreadMs,
      agentProblems,
      cpuSeconds: { process: (cpu.user + cpu.system) / 1e6, broker: broker?.cpuSeconds },
      rssMb: { process: process.memoryUsage().rss / 1024 / 1024, broker: broker?.rssMb },
      heapPerAgentKb,
      heapPerAgentEndKb,
      wallSeconds: (Date.now() - started) / 1000,
    };
  } finally {
    clearInterval(ticker);
    ledger.stop();
    await Promise.allSettled(agents.map((a) => a.stop()));
    await dc.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The table and, last, the one-line summary (the exact form). */
export function formatFleetFigures(f: FleetFigures): string {
  const l = f.ledger;
  const ms = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? 'n/a' : `${Math.round(n)} ms`);
  const rows: [string, string][] = [
    ['cameras (by claim)', `${f.cameras} (${f.claimCameras}), broker ${f.broker}`],
    ['devcloud start', ms(f.devcloudStartMs)],
    ['all online after', `${(f.onlineMs / 1000).toFixed(1)} s (${f.online} of ${f.cameras})`],
    ['snapshots requested', `${l.requested} (${f.operatorRequests} by the operator, ${l.requested - f.operatorRequests} by the cloud on presence)`],
    ['snapshots delivered', `${l.delivered}`],
    ['reports by status', JSON.stringify(l.byStatus)],
    ['superseded before taken', `${l.superseded}`],
    ['request -> S3 p50 / p95 / max', `${ms(percentile(l.latenciesMs, 50))} / ${ms(percentile(l.latenciesMs, 95))} / ${ms(l.latenciesMs.at(-1))}`],
    ['lost', `${l.lost.length}`],
    ['duplicates', `${l.duplicates.length}`],
    ['uploaded without one object', `${l.uploadedWithoutObject.length}`],
    ['broker kill -> all online', f.restartRecoveryMs === undefined ? `not recovered (${f.notRecovered} missing)` : ms(f.restartRecoveryMs)],
    [
      'back online after the kill: 10% / 50% / 90%',
      `${ms(percentile(f.reconnectSpreadMs, 10))} / ${ms(percentile(f.reconnectSpreadMs, 50))} / ${ms(percentile(f.reconnectSpreadMs, 90))} (full-jitter backoff spreads them)`,
    ],
    ['CPU s: node (devcloud + agents) / broker', `${f.cpuSeconds.process.toFixed(1)} / ${f.cpuSeconds.broker?.toFixed(1) ?? 'n/a (in-process)'}`],
    ['RSS MB: node / broker', `${f.rssMb.process.toFixed(0)} / ${f.rssMb.broker?.toFixed(0) ?? 'n/a (in-process)'}`],
    ['live heap per agent: online / end', f.heapPerAgentKb === undefined ? 'n/a (run node with --expose-gc)' : `${f.heapPerAgentKb} KB / ${f.heapPerAgentEndKb ?? '?'} KB (after a full GC)`],
    ['agent warnings/errors', JSON.stringify(f.agentProblems)],
    ['wall time', `${f.wallSeconds.toFixed(1)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const table = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
  const p50 = Math.round(percentile(l.latenciesMs, 50));
  const p95 = Math.round(percentile(l.latenciesMs, 95));
  const last = `fleet: ${f.cameras} cameras, ${f.online} online in ${(f.onlineMs / 1000).toFixed(1)} s, ${l.delivered} of ${l.requested} snapshots delivered, lost ${l.lost.length}, duplicates ${l.duplicates.length}, p50 ${p50} ms, p95 ${p95} ms`;
  return `${table}\n${last}`;
}
