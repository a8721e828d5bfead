/**
 * devcloud's record of when each thing enrolled (AWS: the thing attribute enrolledAt, which the
 * provisioning template writes from the pre-provisioning hook's EnrolledAt override): one file per
 * thing, `DIR/enrolled/{thing}.json` = {"enrolledAt": "yyyy-mm-dd"}, written by the identity service
 * on each registration and read by the enrolment rules (to keep the day on re-enrolment) and by the
 * viewer API (to bound a camera's event listing).
 */
import { parseEnrolmentDay } from '../../cloud/enrolment-rules.js';
import { readThingRecordField, writeThingRecord } from './thing-records.js';

const KIND = 'enrolled';

export async function writeEnrolment(stateDir: string, thingName: string, day: string): Promise<void> {
  if (parseEnrolmentDay(day) === undefined) throw new Error(`enrolment day ${JSON.stringify(day)} is not a yyyy-mm-dd day`);
  await writeThingRecord(stateDir, KIND, thingName, { enrolledAt: day });
}

/** The recorded day as stored, or undefined when there is none or the file is unreadable (a thing made by hand). */
export function readEnrolment(stateDir: string, thingName: string): Promise<string | undefined> {
  return readThingRecordField(stateDir, KIND, thingName, 'enrolledAt');
}
