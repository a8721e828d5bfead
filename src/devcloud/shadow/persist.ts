/**
 * Saves and loads the whole shadow store as one JSON file. A save writes a temp file and renames it
 * over the old one, so a crash leaves either the old or the new store, never half of one.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isObject, type Sections } from './document.js';

export const FILE_FORMAT = 'cloudcam-shadows/1';

export interface PersistedShadow {
  thing: string;
  shadow?: string;
  state: Sections;
  metadata: Sections;
  version: number;
  /** Set on a deleted shadow, kept so a re-created one continues its version (ms since epoch). */
  deletedAt?: number;
}

export function saveShadows(path: string, shadows: PersistedShadow[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify({ format: FILE_FORMAT, shadows }), { mode: 0o600 });
  renameSync(temp, path);
}

function isPersisted(value: unknown): value is PersistedShadow {
  if (!isObject(value)) return false;
  return (
    typeof value.thing === 'string' &&
    (value.shadow === undefined || typeof value.shadow === 'string') &&
    isObject(value.state) &&
    isObject(value.metadata) &&
    typeof value.version === 'number' &&
    (value.deletedAt === undefined || typeof value.deletedAt === 'number')
  );
}

/** The saved shadows, or none when the file does not exist yet. */
export function loadShadows(path: string): PersistedShadow[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const fail = (why: string): Error =>
    new Error(`shadow store file ${path} is unusable (${why}); restore it from a backup or delete it to start empty`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw fail('not valid JSON');
  }
  if (!isObject(parsed) || parsed.format !== FILE_FORMAT || !Array.isArray(parsed.shadows)) {
    throw fail(`expected {"format":"${FILE_FORMAT}","shadows":[...]}`);
  }
  const shadows: unknown[] = parsed.shadows;
  if (!shadows.every(isPersisted)) throw fail('a shadow entry lacks thing, state, metadata or version');
  return shadows;
}
