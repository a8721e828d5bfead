/** The JSON events a packaged agent writes on stdout (syslog-stdout: `<N>{json}`), kept and awaitable: test-package's view of the agent. */
import type { ChildProcess } from 'node:child_process';
import readline from 'node:readline';

export type LogEvent = Record<string, unknown>;

/** Every JSON event the agent writes (syslog-stdout: `<N>{json}`), to wait on. */
export class AgentEvents {
  readonly events: LogEvent[] = [];
  private waiters: { match: (e: LogEvent) => boolean; resolve: (e: LogEvent) => void }[] = [];
  constructor(proc: ChildProcess) {
    if (!proc.stdout) throw new Error('agent stdout is not piped');
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      const json = line.replace(/^<\d>/, '');
      let e: LogEvent;
      try {
        e = JSON.parse(json) as LogEvent;
      } catch {
        return;
      }
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => (w.match(e) ? (w.resolve(e), false) : true));
    });
  }
  wait(what: string, match: (e: LogEvent) => boolean, timeoutMs: number, proc: ChildProcess): Promise<LogEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => {
        clearTimeout(timer);
        reject(new Error(`the agent exited (${code}) while waiting for ${what}`));
      };
      const timer = setTimeout(() => {
        proc.off('exit', onExit);
        reject(new Error(`no ${what} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      proc.once('exit', onExit);
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          proc.off('exit', onExit);
          resolve(e);
        },
      });
    });
  }
}
