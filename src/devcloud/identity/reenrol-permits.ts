/**
 * devcloud's record of `cloudcam fleet allow-reenrol` (AWS: the thing attribute reenrolAllowedUntil):
 * one file per thing, `DIR/reenrol/{thing}.json` = {"allowedUntil": ISO time}, written by the CLI (another
 * process) and used up by the identity service. Using it is an unlink: of two registrations racing
 * for one permission only one unlink succeeds, so it lets exactly one through.
 */
import { mkdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-file.js';
import { assertThingName } from '../broker/acl.js';

const DIR = 'reenrol';

function permitPath(stateDir: string, thingName: string): string {
  assertThingName(thingName); // also keeps `/` and `..` out of the file name
  return path.join(stateDir, DIR, `${thingName}.json`);
}

export async function writeReenrolPermit(stateDir: string, thingName: string, untilMs: number): Promise<string> {
  const file = permitPath(stateDir, thingName);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify({ allowedUntil: new Date(untilMs).toISOString() })}\n`, 0o600);
  return file;
}

/** The permission's end (ms since the epoch), or undefined when there is none or it is unreadable. */
export async function readReenrolPermit(stateDir: string, thingName: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(permitPath(stateDir, thingName), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const until = Date.parse(String((JSON.parse(text) as { allowedUntil?: unknown }).allowedUntil));
    return Number.isFinite(until) ? until : undefined;
  } catch {
    return undefined; // a damaged file permits nothing
  }
}

/** Removes the permission; false when it was gone already (used by another registration). */
export async function useReenrolPermit(stateDir: string, thingName: string): Promise<boolean> {
  try {
    await unlink(permitPath(stateDir, thingName));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
