/**
 * Issue 20: event keys dated before the camera's enrolment are not listed as its events. The camera
 * names its own event keys (the grant's POST policy bounds them only to a decade prefix), so a camera
 * enrolled three days ago can upload one dated five days back, inside the bucket's retention window.
 * The enrolment day is recorded where the viewer API reads it: in AWS the thing attribute enrolledAt,
 * which the provisioning template writes from the pre-provisioning hook's EnrolledAt override (AWS IoT
 * Developer Guide, "Pre-provisioning hooks": parameterOverrides are added to the RegisterThing request's
 * parameters; "Provisioning templates": AttributePayload values may Ref a parameter); in devcloud its
 * identity service's record of the same (src/devcloud/identity/enrolments.ts). A camera enrolled by a
 * real claim enrolment here (the agent's ensureIdentity against devcloud's RegisterThing), with the
 * identity service's clock three days behind, so that it enrolled "three days ago".
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_DIR, loadAgentConfig } from '../../src/agent/config/index.js';
import { createAgentLogger } from '../../src/agent/logging.js';
import { ensureIdentity } from '../../src/agent/provisioning/provisioning.js';
import { writeReenrolPermit } from '../../src/devcloud/identity/reenrol-permits.js';
import { VapixClient } from '../../src/protocol/vapix/client.js';
import { eventKey } from '../../src/protocol/upload-grant.js';
import type { EventImageRef } from '../../src/viewer/api/types.js';
import { startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { uploadEventPictures } from '../helpers/event-upload.js';

const DAY = 24 * 3600 * 1000;
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);

let t: TestDevcloud;
let token: string;
let clockOffsetMs = -3 * DAY;
const dirs: string[] = [];
let enrolled: { thing: string; twoDaysAgo: string; today: string };

const events = async (thing: string): Promise<string[]> => {
  const res = await fetch(`${t.dc.viewer.url}/api/cameras/${thing}/events`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: EventImageRef[] }).items.map((i) => i.key);
};

/** The agent's enrolment step alone, as a camera without an identity (a new or reset one) runs it. */
async function enrol(): Promise<string> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-enrol-'));
  dirs.push(stateDir);
  const config = loadAgentConfig(t.dc.info.claimCameras['claim-1']!.agentConfigPath, {});
  config.stateDir = stateDir;
  config.iot.certPath = path.join(stateDir, IDENTITY_DIR, 'device.crt');
  config.iot.keyPath = path.join(stateDir, IDENTITY_DIR, 'device.key');
  const camera = new VapixClient({ baseUrl: config.camera.url, username: config.camera.username, password: config.camera.password, timeoutMs: 5000 });
  const log = createAgentLogger({ level: 'error', format: 'json', thing: 'enrolling', out: new PassThrough() });
  return (await ensureIdentity(config, { log, camera, replyTimeoutMs: 5000 })).thingName;
}

beforeAll(async () => {
  t = await startTestDevcloud({ broker: 'aedes', cameras: 1, claimCameras: 1, now: () => Date.now() + clockOffsetMs });
  token = t.dc.viewer.issuer.accessToken();
});
afterAll(async () => {
  await t?.cleanup();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('event listing: the camera’s enrolment day is its floor', () => {
  it('a camera enrolled by claim three days ago: its event dated five days back (inside the window) is not listed, later ones are', async () => {
    const thing = await enrol();
    const now = Date.now();
    const [today, twoDaysAgo, fiveDaysAgo] = [0, 2, 5].map((d) => eventKey(thing, 'motion', new Date(now - d * DAY - 60_000))) as [string, string, string];
    // Uploaded through a real grant: S3's POST policy accepts all three (same decade prefix).
    await uploadEventPictures(t.dc, thing, [today, twoDaysAgo, fiveDaysAgo], JPEG);
    expect(await events(thing)).toEqual([today, twoDaysAgo]);
    enrolled = { thing, twoDaysAgo, today };
  });

  it('a re-enrolment today (an operator-allowed reset) keeps the first enrolment day: the camera’s own earlier events stay listed', async () => {
    // The identity service's clock is today's again; an operator allows one re-enrolment (what
    // `cloudcam fleet allow-reenrol` writes in devcloud) and the reset camera enrols anew.
    clockOffsetMs = 0;
    await writeReenrolPermit(t.dir, enrolled.thing, Date.now() + 10 * 60_000);
    expect(await enrol()).toBe(enrolled.thing);
    // The two-days-ago event predates this enrolment, not the first one.
    expect(await events(enrolled.thing)).toEqual([enrolled.today, enrolled.twoDaysAgo]);
  });

  it('a camera with no recorded enrolment (made by hand) keeps the window as before: its five-day-old event is listed', async () => {
    const old = eventKey('camera-1', 'motion', new Date(Date.now() - 5 * DAY));
    await uploadEventPictures(t.dc, 'camera-1', [old], JPEG);
    expect(await events('camera-1')).toEqual([old]);
  });
});
