/**
 * Which runtime the agent runs on, as the running process reports it, and what the package claims
 * about it (runtime.json, written by `make package`: origin, source, end of life, the way out of an
 * end-of-life runtime). `cloudcam --version` prints both, the start log names them, and
 * `make test-package` checks that they agree.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface RunningRuntime {
  node: string;
  arch: string;
  /** 'debian': node linked against a shared libnode (Debian's build); 'official': a nodejs.org build. */
  origin: 'debian' | 'official';
}

/** The runtime notes the package carries (src/packaging/flavours.ts RuntimeNotes), as far as the agent reads them. */
export interface PackagedRuntimeNotes {
  origin?: string;
  node?: string;
  source?: string;
  endOfLife?: string;
  wayOut?: string;
  axisOs?: string;
}

export function runningRuntime(): RunningRuntime {
  const variables = (process.config as { variables?: Record<string, unknown> }).variables ?? {};
  return { node: process.version, arch: process.arch, origin: variables['node_shared'] === true ? 'debian' : 'official' };
}

/** runtime.json in the package directory; undefined when absent (the development entry) or unreadable. */
export function packagedRuntimeNotes(appDir: string): PackagedRuntimeNotes | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(appDir, 'runtime.json'), 'utf8')) as PackagedRuntimeNotes;
  } catch {
    return undefined;
  }
}

/** True when the notes' end of life is before `now`. */
export function pastEndOfLife(notes: PackagedRuntimeNotes | undefined, now = new Date()): boolean {
  return notes?.endOfLife !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(notes.endOfLife) && now.toISOString().slice(0, 10) > notes.endOfLife;
}

/** The lines `--version` prints after the first. */
export function runtimeNotesText(notes: PackagedRuntimeNotes | undefined, now = new Date()): string {
  if (!notes) return '';
  const support = pastEndOfLife(notes, now)
    ? `END OF LIFE since ${notes.endOfLife}: no more security fixes${notes.wayOut ? `; way out: ${notes.wayOut}` : ''}`
    : `security support to ${notes.endOfLife ?? '?'}`;
  return `runtime: ${notes.source ?? '?'}; ${support}${notes.axisOs ? `; for ${notes.axisOs}` : ''}\n`;
}
