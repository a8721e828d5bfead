/**
 * The real agent as a child process, with its JSON log lines: the development entry
 * (`node dist/cli.js agent --config FILE`), its bundle in a packaged layout, or the package itself
 * through its launcher.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const CLI = path.resolve('dist/cli.js');

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: Record<string, unknown>[];
  /** Set when the process exited without being told to (stop() or kill()). */
  readonly unexpectedExit: { code: number | null; signal: string | null } | undefined;
  /** Resolves with the first line (already seen or future) that matches. */
  waitForLog(match: (l: Record<string, unknown>) => boolean, timeoutMs?: number, from?: number): Promise<Record<string, unknown>>;
  /** Resident set size in KB (/proc/PID/status VmRSS). */
  rssKb(): number;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, as a crash or power cut would; resolves when it is gone. */
  kill(): Promise<void>;
}

/** `nodeArgs`: node's own flags before the script (e.g. --expose-gc for the heap probe). */
export function spawnAgent(configPath: string, env: Record<string, string> = {}, opts: { nodeArgs?: string[] } = {}): Promise<AgentProcess> {
  return spawnAgentProcess(process.execPath, [...(opts.nodeArgs ?? []), CLI, 'agent', '--config', configPath], env);
}

/**
 * The agent as it ships: its esbuild bundle run from a packaged layout (appDir: cloudcam.defaults.json,
 * localdata/cloudcam.json), as the .eap's and the gateway's executable runs it.
 */
export function spawnShippedAgent(bundle: string, appDir: string, env: Record<string, string> = {}, opts: { nodeArgs?: string[] } = {}): Promise<AgentProcess> {
  return spawnAgentProcess(process.execPath, [...(opts.nodeArgs ?? []), bundle], { CLOUDCAM_APP_DIR: appDir, ...env });
}

/**
 * The package itself, as a camera starts it: `appDir/cloudcam` (the launcher, which sets the runtime
 * settings and execs the single executable beside it: the pid is the agent's), settings in
 * appDir/localdata/cloudcam.json. The launcher sets NODE_OPTIONS and UV_THREADPOOL_SIZE itself (from
 * its defaults and localdata/runtime.env); the rest of `env` reaches the agent.
 */
export function spawnPackagedAgent(appDir: string, env: Record<string, string> = {}): Promise<AgentProcess> {
  return spawnAgentProcess('sh', [path.join(appDir, 'cloudcam')], env);
}

function spawnAgentProcess(command: string, argv: string[], env: Record<string, string>): Promise<AgentProcess> {
  const child = spawn(command, argv, {
    env: { ...process.env, CLOUDCAM_LOG_FORMAT: 'json', CLOUDCAM_LOG_LEVEL: 'debug', CLOUDCAM_SCHEDULE_CRON: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { match: (l: Record<string, unknown>) => boolean; from: number; resolve: (l: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { msg: text, unparsed: true };
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  let expected = false;
  let unexpectedExit: AgentProcess['unexpectedExit'];
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      if (!expected) unexpectedExit = { code, signal };
      resolve(code);
    }),
  );
  const proc: AgentProcess = {
    child,
    pid: child.pid!,
    lines,
    get unexpectedExit() {
      return unexpectedExit;
    },
    waitForLog(match, timeoutMs = 20_000, from = 0) {
      const seen = lines.slice(from).find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`agent ${child.pid}: no matching log line within ${timeoutMs} ms; last lines:\n${lines.slice(-15).map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${stderr}`));
        }, timeoutMs);
        const waiter = {
          match,
          from,
          resolve: (l: Record<string, unknown>) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(waiter);
      });
    },
    rssKb() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return Number(m?.[1] ?? NaN);
    },
    async stop() {
      expected = true;
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      expected = true;
      child.kill('SIGKILL');
      await exited;
    },
  };
  // Ready once the first connect succeeded.
  return proc.waitForLog((l) => l['msg'] === 'MQTT connected').then(() => proc, async (err: unknown) => {
    await proc.kill();
    throw err;
  });
}
