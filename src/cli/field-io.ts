/** Where field commands read and write; tests pass their own streams, the CLI passes the process's. */
import type { Writable } from 'node:stream';
import type { PromptIo } from './prompt.js';

export interface FieldIo {
  out: Writable;
  err: Writable & { isTTY?: boolean };
  input: PromptIo['input'];
  env: NodeJS.ProcessEnv;
}

export function processIo(): FieldIo {
  return { out: process.stdout, err: process.stderr, input: process.stdin, env: process.env };
}

/** A one-line progress bar on a terminal; nothing otherwise (logs stay clean). */
export function progressBar(io: FieldIo, label: string): { update(sent: number, total: number): void; done(): void } {
  if (!io.err.isTTY) return { update: () => undefined, done: () => undefined };
  let last = -1;
  return {
    update(sent, total) {
      const pct = total === 0 ? 100 : Math.floor((sent / total) * 100);
      if (pct === last) return;
      last = pct;
      const width = 30;
      const fill = Math.round((pct / 100) * width);
      io.err.write(`\r${label} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${String(pct).padStart(3)}% ${(sent / 1e6).toFixed(1)}/${(total / 1e6).toFixed(1)} MB`);
    },
    done() {
      if (last >= 0) io.err.write('\n');
    },
  };
}
