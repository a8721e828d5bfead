/**
 * A camera's agent in the gateway layout as systemd would run it, with real processes: the
 * launcher (ExecStart) restarted whenever it exits (Restart=always), an installed base release,
 * the agent's state in localdata/. Releases are the agent's esbuild bundle (the same bundle the
 * packaged single executable carries) run by this machine's node, so a "build with another
 * version" is that bundle built with another __CLOUDCAM_VERSION__ (docs/update.md, "Tests").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { bundleAgent } from '../../src/packaging/sea.js';
import { launcherScript, LAUNCHER_NAME } from '../../src/agent/update/gateway-launcher.js';
import { defaultsFileContent } from '../../src/packaging/package-files.js';
import { DEFAULTS_FILE } from '../../src/agent/packaged-app.js';

/** The agent bundle for `version` (built once per version and directory). */
export async function agentBundle(dir: string, version: string): Promise<string> {
  const out = path.join(dir, `agent-${version}.cjs`);
  await bundleAgent(path.resolve('src/agent/bin.ts'), out, version, 'node20');
  return out;
}

/** The executable of a release: runs `bundle` with this machine's node, the release dir as app dir. */
export function releaseScript(bundleName: string, extraEnv = ''): string {
  return `#!/bin/sh\nhere=$(cd "$(dirname "$0")" && pwd)\nCLOUDCAM_APP_DIR="$here" ${extraEnv} exec ${JSON.stringify(process.execPath)} "$here/${bundleName}" "$@"\n`;
}

/** A gateway tarball cloudcam_{version}_linux-x64.tar.gz holding the bundle, or another executable. */
export function gatewayTarball(dir: string, version: string, bundle: string, opts: { script?: string; name?: string } = {}): string {
  const work = mkdtempSync(path.join(dir, 'pkg-'));
  const top = path.join(work, `cloudcam-${version}`);
  mkdirSync(top);
  copyFileSync(bundle, path.join(top, 'agent.cjs'));
  writeFileSync(path.join(top, DEFAULTS_FILE), defaultsFileContent());
  writeFileSync(path.join(top, 'cloudcam'), opts.script ?? releaseScript('agent.cjs'));
  chmodSync(path.join(top, 'cloudcam'), 0o755);
  const file = path.join(dir, opts.name ?? `cloudcam_${version}_linux-x64.tar.gz`);
  execFileSync('tar', ['-czf', file, '-C', work, `cloudcam-${version}`]);
  return file;
}

export type LogLine = Record<string, unknown>;

/** The agent's start line, naming the version that runs. */
export const startedAs = (version: string) => (l: LogLine): boolean => l['event'] === 'agent.started' && l['version'] === version;
/** The connection's log line once MQTT is up. */
export const mqttConnected = (l: LogLine): boolean => l['msg'] === 'MQTT connected';

export interface GatewayCamera {
  readonly thing: string;
  readonly base: string;
  /** localdata/: releases, the current/previous pointers, update records. */
  readonly root: string;
  /** Launcher starts so far. */
  readonly starts: number;
  readonly lines: LogLine[];
  /** The first line from index `from` on (default: all) that matches, waiting for it. */
  waitFor(match: (l: LogLine) => boolean, timeoutMs: number, from?: number): Promise<LogLine>;
  /** The release the launcher runs next ('base' when none). */
  current(): string;
  stop(): Promise<void>;
}

export async function startGatewayCamera(o: { thing: string; agentConfigPath: string; baseBundle: string; siteOverrides?: Record<string, unknown>; restartMs?: number }): Promise<GatewayCamera> {
  const base = mkdtempSync(path.join(tmpdir(), `gw-${o.thing}-`));
  const root = path.join(base, 'localdata');
  mkdirSync(root, { mode: 0o700 });
  copyFileSync(o.baseBundle, path.join(base, 'agent.cjs'));
  writeFileSync(path.join(base, DEFAULTS_FILE), defaultsFileContent());
  writeFileSync(path.join(base, 'cloudcam'), releaseScript('agent.cjs'));
  chmodSync(path.join(base, 'cloudcam'), 0o755);
  writeFileSync(path.join(base, LAUNCHER_NAME), launcherScript());
  chmodSync(path.join(base, LAUNCHER_NAME), 0o755);
  const site: Record<string, unknown> = { ...(JSON.parse(readFileSync(o.agentConfigPath, 'utf8')) as Record<string, unknown>), log: { format: 'json', level: 'info' } };
  for (const [k, v] of Object.entries(o.siteOverrides ?? {})) {
    const cur = site[k];
    site[k] = typeof cur === 'object' && cur !== null && typeof v === 'object' && v !== null ? { ...cur, ...v } : v;
  }
  writeFileSync(path.join(root, 'cloudcam.json'), JSON.stringify(site, null, 2), { mode: 0o600 });

  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  let child: ChildProcess | undefined;
  let stopping = false;
  let starts = 0;
  let exited: Promise<void> = Promise.resolve();
  const launch = (): void => {
    starts += 1;
    const c = spawn(path.join(base, LAUNCHER_NAME), [], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
    child = c;
    const take = (text: string, stream: string): void => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text, stream };
      }
      lines.push(line);
      for (const w of waiters) w();
    };
    createInterface({ input: c.stdout }).on('line', (t) => take(t, 'stdout'));
    createInterface({ input: c.stderr }).on('line', (t) => take(t, 'stderr'));
    exited = new Promise((resolve) =>
      c.once('exit', (code, signal) => {
        take(JSON.stringify({ event: 'test.exited', code, signal }), 'supervisor');
        resolve();
        if (!stopping) setTimeout(() => !stopping && launch(), o.restartMs ?? 100);
      }),
    );
  };
  launch();
  return {
    thing: o.thing,
    base,
    root,
    get starts() {
      return starts;
    },
    lines,
    waitFor(match, timeoutMs, from = 0) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = lines.slice(from).find(match);
          if (!found) return false;
          waiters.delete(onLine);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const onLine = (): void => void check();
        const timer = setTimeout(() => {
          waiters.delete(onLine);
          reject(new Error(`${o.thing}: no matching log line within ${timeoutMs} ms; last lines:\n${lines.slice(-15).map((l) => JSON.stringify(l).slice(0, 300)).join('\n')}`));
        }, timeoutMs);
        if (!check()) waiters.add(onLine);
      });
    },
    current() {
      try {
        return readFileSync(path.join(root, 'current'), 'utf8').trim() || 'base';
      } catch {
        return 'base';
      }
    },
    async stop() {
      stopping = true;
      child?.kill('SIGTERM');
      await exited;
    },
  };
}
