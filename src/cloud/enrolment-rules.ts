/**
 * Who may enrol by claim: the rules of the pre-provisioning hook, in one place for both clouds. The
 * Lambda (provisioning-hook.ts) applies them against the AWS IoT registry, devcloud's identity service
 * against its own state dir; each through a ThingRegistry.
 *
 *  1. The SerialNumber must be an Axis serial (12 hex digits) and, when an allow-list is set, on it.
 *  2. A serial whose thing already has an ACTIVE certificate is refused (the claim key ships in every
 *     package and serials are printed on labels: without this rule anyone could take a camera's
 *     identity), unless an operator allowed one re-enrolment (`cloudcam fleet allow-reenrol`) that has
 *     not expired. That permission is used up by the registration it lets through, and the thing's
 *     old certificates are deactivated before the hook answers.
 */
import { reenrolCommand } from '../protocol/fleet-provisioning.js';

/** Axis serial numbers are the MAC address: 12 hex digits. Compared upper-case. */
const SERIAL = /^[0-9A-F]{12}$/;

/** The deployed template names a camera's thing `{prefix}{SerialNumber}` (infra/cloudcam-stack.ts). */
export const DEFAULT_THING_NAME_PREFIX = 'cloudcam-';
/** The thing attribute that records an operator's one-time permission (epoch seconds, a deadline). */
export const REENROL_ATTRIBUTE = 'reenrolAllowedUntil';
/**
 * The thing attribute holding the UTC day (`yyyy-mm-dd`) the camera first enrolled: the provisioning
 * template writes it from the hook's `EnrolledAt` override; the viewer API lists no event key dated
 * before it (a camera names its own event keys).
 */
export const ENROLLED_AT_ATTRIBUTE = 'enrolledAt';
const ENROLMENT_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A recorded enrolment day as a Date (its start, UTC), or undefined when absent or not a valid day. */
export function parseEnrolmentDay(value: string | undefined): Date | undefined {
  if (value === undefined || !ENROLMENT_DAY.test(value)) return undefined;
  const at = new Date(`${value}T00:00:00Z`);
  return Number.isFinite(at.getTime()) && at.toISOString().startsWith(value) ? at : undefined;
}

/**
 * The enrolment day a registration records: the one recorded already, when the thing has a valid one
 * not in the future (a reset camera that enrols again is the same camera, and its earlier events stay
 * its own), else today (UTC).
 */
export function enrolmentDay(recorded: string | undefined, now: number): string {
  const at = parseEnrolmentDay(recorded);
  return recorded !== undefined && at !== undefined && at.getTime() <= now ? recorded : new Date(now).toISOString().slice(0, 10);
}
/** How long `cloudcam fleet allow-reenrol` lets a permission stand unless told otherwise. */
export const DEFAULT_REENROL_WINDOW_MINUTES = 60;
export const MAX_REENROL_WINDOW_MINUTES = 24 * 60;

export interface SerialDecision {
  allow: boolean;
  /** Upper-cased; what the thing name is made of. */
  serial?: string;
  why: string;
}

/**
 * `undefined` (no CLOUDCAM_ALLOWED_SERIALS at all): no allow-list, any serial may enrol. A set but
 * empty variable is an empty list: nothing may.
 */
export function parseAllowList(value: string | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  return new Set(
    value
      .split(/[\s,]+/)
      .map((s) => s.trim().toUpperCase())
      .filter((s) => s !== ''),
  );
}

/** Rule 1, on the RegisterThing parameters (the hook's `event.parameters`). */
export function decideSerial(parameters: unknown, allowed: ReadonlySet<string> | undefined): SerialDecision {
  const raw = typeof parameters === 'object' && parameters !== null ? (parameters as Record<string, unknown>)['SerialNumber'] : undefined;
  if (typeof raw !== 'string') return { allow: false, why: 'no SerialNumber parameter in the RegisterThing request' };
  const serial = raw.trim().toUpperCase();
  if (!SERIAL.test(serial)) return { allow: false, serial, why: 'SerialNumber is not 12 hex digits' };
  if (allowed === undefined) return { allow: true, serial, why: 'no allow-list is set' };
  if (allowed.size === 0) {
    return { allow: false, serial, why: 'the allow-list is empty: set CLOUDCAM_ALLOWED_SERIALS (deploy with -c allowedSerials=...)' };
  }
  if (!allowed.has(serial)) return { allow: false, serial, why: 'serial number is not on the allow-list' };
  return { allow: true, serial, why: 'serial number is on the allow-list' };
}

/** What a registry knows about a thing that is about to be (re-)registered. */
export interface EnrolledThing {
  /**
   * The thing's ACTIVE certificates other than the one being registered, by the registry's own
   * certificate handle (AWS: the certificate id; devcloud: the certificate's CN).
   */
  activeCertificates: string[];
  /** End of an operator's re-enrolment permission, ms since the epoch; absent when none is recorded. */
  reenrolAllowedUntil?: number;
  /** The registry's version of the thing, for an atomic use of the permission (AWS: the thing version). */
  version?: number;
  /** The thing's recorded enrolment day (ENROLLED_AT_ATTRIBUTE), as stored. */
  enrolledAt?: string;
}

export interface ThingRegistry {
  /** undefined when no such thing exists. */
  lookup(thingName: string, newCertificate: string): Promise<EnrolledThing | undefined>;
  /** Removes the permission; false when another registration used it first (it may be used once). */
  useReenrolPermission(thingName: string, version: number | undefined): Promise<boolean>;
  /** AWS: UpdateCertificate INACTIVE (AWS IoT then disconnects it and refuses it). */
  deactivate(certificate: string): Promise<void>;
}

export interface ReenrolDecision {
  allow: boolean;
  why: string;
  /** Certificates deactivated because an operator allowed this re-enrolment. */
  deactivated: string[];
  /** The enrolment day to record when allowed (enrolmentDay: the thing's own, else today). */
  enrolledAt?: string;
}

/** Rule 2. Deactivates the old certificates only when it allows a re-enrolment. */
export async function decideReenrolment(
  registry: ThingRegistry,
  thingName: string,
  serial: string,
  newCertificate: string,
  now: number,
): Promise<ReenrolDecision> {
  const thing = await registry.lookup(thingName, newCertificate);
  const enrolledAt = enrolmentDay(thing?.enrolledAt, now);
  if (!thing || thing.activeCertificates.length === 0) {
    return { allow: true, why: thing ? `thing ${thingName} has no active certificate` : `thing ${thingName} is new`, deactivated: [], enrolledAt };
  }
  const until = thing.reenrolAllowedUntil;
  if (until === undefined || until <= now) {
    const expired = until === undefined ? '' : ` (the operator's permission expired at ${new Date(until).toISOString()})`;
    return {
      allow: false,
      why: `thing ${thingName} already has an active certificate${expired}: if this camera really is serial ${serial} (reset or replaced storage), an operator must allow one re-enrolment: ${reenrolCommand(serial)}`,
      deactivated: [],
    };
  }
  if (!(await registry.useReenrolPermission(thingName, thing.version))) {
    return { allow: false, why: `thing ${thingName}: the operator's re-enrolment permission was used by another registration at the same time`, deactivated: [] };
  }
  for (const certificate of thing.activeCertificates) await registry.deactivate(certificate);
  return { allow: true, why: `re-enrolment of ${thingName} allowed by an operator; its old certificate is deactivated`, deactivated: [...thing.activeCertificates], enrolledAt };
}
