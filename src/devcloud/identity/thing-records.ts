/**
 * devcloud's per-thing records that stand in for thing attributes (enrolledAt, reenrolAllowedUntil):
 * one small JSON file per thing, `DIR/{kind}/{thing}.json`, written atomically with owner-only
 * permissions and read as "absent" when missing or damaged (a damaged record grants nothing).
 */
import { mkdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-file.js';
import { assertThingName } from '../broker/acl.js';

export function thingRecordPath(stateDir: string, kind: string, thingName: string): string {
  assertThingName(thingName); // also keeps `/` and `..` out of the file name
  return path.join(stateDir, kind, `${thingName}.json`);
}

export async function writeThingRecord(stateDir: string, kind: string, thingName: string, record: Record<string, string>): Promise<string> {
  const file = thingRecordPath(stateDir, kind, thingName);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify(record)}\n`, 0o600);
  return file;
}

/** The record's `field` when it is a string; undefined when the file is missing, unreadable or damaged. */
export async function readThingRecordField(stateDir: string, kind: string, thingName: string, field: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(thingRecordPath(stateDir, kind, thingName), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = (JSON.parse(text) as Record<string, unknown>)[field];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the record; false when it was gone already. */
export async function removeThingRecord(stateDir: string, kind: string, thingName: string): Promise<boolean> {
  try {
    await unlink(thingRecordPath(stateDir, kind, thingName));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
