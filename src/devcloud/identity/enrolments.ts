/**
 * devcloud's record of when each thing enrolled (AWS: the thing attribute enrolledAt, which the
 * provisioning template writes from the pre-provisioning hook's EnrolledAt override): one file per
 * thing, `DIR/enrolled/{thing}.json` = {"enrolledAt": "yyyy-mm-dd"}, written by the identity service
 * on each registration and read by the enrolment rules (to keep the day on re-enrolment) and by the
 * viewer API (to bound a camera's event listing).
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseEnrolmentDay } from '../../cloud/enrolment-rules.js';
import { writeFileAtomic } from '../../lib/atomic-file.js';
import { assertThingName } from '../broker/acl.js';

const DIR = 'enrolled';

function enrolmentPath(stateDir: string, thingName: string): string {
  assertThingName(thingName); // also keeps `/` and `..` out of the file name
  return path.join(stateDir, DIR, `${thingName}.json`);
}

export async function writeEnrolment(stateDir: string, thingName: string, day: string): Promise<void> {
  if (parseEnrolmentDay(day) === undefined) throw new Error(`enrolment day ${JSON.stringify(day)} is not a yyyy-mm-dd day`);
  const file = enrolmentPath(stateDir, thingName);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify({ enrolledAt: day })}\n`, 0o600);
}

/** The recorded day as stored, or undefined when there is none or the file is unreadable (a thing made by hand). */
export async function readEnrolment(stateDir: string, thingName: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(enrolmentPath(stateDir, thingName), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const day = (JSON.parse(text) as { enrolledAt?: unknown }).enrolledAt;
    return typeof day === 'string' ? day : undefined;
  } catch {
    return undefined;
  }
}
