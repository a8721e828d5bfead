/**
 * devcloud's record of `cloudcam fleet allow-reenrol` (AWS: the thing attribute reenrolAllowedUntil):
 * one file per thing, `DIR/reenrol/{thing}.json` = {"allowedUntil": ISO time}, written by the CLI (another
 * process) and used up by the identity service. Using it is an unlink: of two registrations racing
 * for one permission only one unlink succeeds, so it lets exactly one through.
 */
import { readThingRecordField, removeThingRecord, writeThingRecord } from './thing-records.js';

const KIND = 'reenrol';

export function writeReenrolPermit(stateDir: string, thingName: string, untilMs: number): Promise<string> {
  return writeThingRecord(stateDir, KIND, thingName, { allowedUntil: new Date(untilMs).toISOString() });
}

/** The permission's end (ms since the epoch), or undefined when there is none or it is unreadable (a damaged file permits nothing). */
export async function readReenrolPermit(stateDir: string, thingName: string): Promise<number | undefined> {
  const until = Date.parse(String(await readThingRecordField(stateDir, KIND, thingName, 'allowedUntil')));
  return Number.isFinite(until) ? until : undefined;
}

/** Removes the permission; false when it was gone already (used by another registration). */
export function useReenrolPermit(stateDir: string, thingName: string): Promise<boolean> {
  return removeThingRecord(stateDir, KIND, thingName);
}
