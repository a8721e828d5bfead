/**
 * test-package's stand-in for the camera's systemd: runs the unpacked package's launcher and restarts
 * it when the simulated camera (re)starts the app. On AXIS OS, VAPIX control.cgi `restart` makes
 * systemd stop the app's process (SIGTERM) and start it again; the simulator records each start and
 * restart as `runs` (devcloud's control API, GET /cameras/{thing}/apps), and this follows it. So
 * `cloudcam setup live`'s restart restarts the real packaged process under qemu.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import os from 'node:os';
import { AgentEvents } from './agent-events.js';

export interface SupervisedRun {
  proc: ChildProcess;
  events: AgentEvents;
  /** The exit code after the supervisor's SIGTERM (undefined while it runs). */
  stopCode?: number | null;
}

export interface AppSupervisorOptions {
  launcher: string;
  env: NodeJS.ProcessEnv;
  controlUrl: string;
  thing: string;
  appName: string;
  /** How often the camera's app record is read (ms). */
  pollMs?: number;
}

export class AppSupervisor {
  readonly runs: SupervisedRun[] = [];
  private readonly changes = new EventEmitter();
  private timer: NodeJS.Timeout | undefined;
  private seen = 0;
  private busy = false;
  private stopping = false;
  private failure: Error | undefined;

  constructor(private readonly opts: AppSupervisorOptions) {}

  /** The camera's start count for the app now, then the first process. */
  async start(): Promise<SupervisedRun> {
    this.seen = await this.cameraRuns();
    const run = this.spawnRun();
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs ?? 250);
    return run;
  }

  /** Resolves with the process the camera's next (re)start begins; rejects if none comes in time. */
  async nextRun(after: SupervisedRun, timeoutMs: number): Promise<SupervisedRun> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      for (;;) {
        if (this.failure) throw this.failure;
        const i = this.runs.indexOf(after);
        const next = this.runs[i + 1];
        if (next) return next;
        await once(this.changes, 'change', { signal: ac.signal }).catch(() => {
          throw new Error(`the camera did not restart ${this.opts.appName} within ${timeoutMs / 1000} s (control.cgi restart never came)`);
        });
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM to the running process (systemd's stop); resolves with its exit code. No more restarts. */
  async stop(): Promise<number | null> {
    this.stopping = true;
    clearInterval(this.timer);
    const run = this.runs.at(-1);
    if (!run) return null;
    return this.stopRun(run);
  }

  /** On the way out after a failure: no more restarts, SIGKILL whatever still runs. */
  kill(): void {
    this.stopping = true;
    clearInterval(this.timer);
    for (const run of this.runs) if (run.proc.exitCode === null && run.proc.signalCode === null) run.proc.kill('SIGKILL');
  }

  private spawnRun(): SupervisedRun {
    // A minimal environment, as systemd gives an ACAP app; the cwd is not the package directory.
    const proc = spawn('sh', [this.opts.launcher], { cwd: os.tmpdir(), env: this.opts.env, stdio: ['ignore', 'pipe', 'inherit'] });
    const run: SupervisedRun = { proc, events: new AgentEvents(proc) };
    this.runs.push(run);
    this.changes.emit('change');
    return run;
  }

  private async stopRun(run: SupervisedRun): Promise<number | null> {
    if (run.proc.exitCode === null && run.proc.signalCode === null) {
      const exited = once(run.proc, 'exit');
      run.proc.kill('SIGTERM');
      await exited;
    }
    run.stopCode = run.proc.exitCode;
    return run.stopCode;
  }

  private async poll(): Promise<void> {
    if (this.busy || this.stopping) return;
    this.busy = true;
    try {
      const runs = await this.cameraRuns();
      if (runs <= this.seen || this.stopping) return;
      this.seen = runs;
      const current = this.runs.at(-1);
      if (current) await this.stopRun(current);
      if (!this.stopping) this.spawnRun();
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.changes.emit('change');
    } finally {
      this.busy = false;
    }
  }

  private async cameraRuns(): Promise<number> {
    const res = await fetch(`${this.opts.controlUrl}/cameras/${this.opts.thing}/apps`);
    if (!res.ok) throw new Error(`devcloud's control API answered ${res.status} for ${this.opts.thing}'s apps`);
    const body = (await res.json()) as { apps?: { name: string; status: string; runs: number }[] };
    const app = body.apps?.find((a) => a.name === this.opts.appName);
    if (!app) throw new Error(`${this.opts.thing} has no app ${this.opts.appName} installed`);
    return app.runs;
  }
}
