import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The built CLI; `make test` builds dist/ before running the tests. */
export const CLI = path.join(ROOT, 'dist', 'cli.js');

export interface Cli {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout has matched `pattern`. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Cli {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    waiters.forEach((w) => w());
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForOutput(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = pattern.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[0]);
          }
        };
        const timer = setTimeout(() => reject(new Error(`no ${String(pattern)} in output within ${timeoutMs} ms:\n${out}\n${err}`)), timeoutMs);
        waiters.push(check);
        void exited.then(() => check());
        check();
      });
    },
  };
}

/** Runs the CLI to completion. */
export async function cliResult(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = runCli(args, env);
  const { code } = await c.exited;
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}
