/**
 * The fleet provisioning pre-provisioning hook (AWS IoT calls it on every RegisterThing) applying the
 * rules of enrolment-rules.ts: the serial must be on the allow-list (when one is set), and a serial
 * whose thing already has an active certificate needs an operator's one-time permission; with it,
 * the old certificates are deactivated here, before the answer.
 *
 * Input/output: AWS IoT Developer Guide, "Pre-provisioning hooks": the event carries certificateId
 * (the certificate being registered) and parameters; the answer is {allowProvisioning,
 * parameterOverrides}. A refusal (or a hook that fails or takes over 5 s) makes RegisterThing fail
 * with ACCESS_DENIED; the reason only reaches the hook's log, so the agent's message names every fix.
 * parameterOverrides pins SerialNumber to its upper-case form, so `accc8e…` cannot make a second thing,
 * and sets EnrolledAt (the template writes it as the thing attribute enrolledAt: the thing's recorded
 * day, kept on re-enrolment, else today), so a device's own EnrolledAt parameter never counts: AWS adds
 * the overrides to the request's parameters, replacing the device's.
 */
import { IoTClient } from '@aws-sdk/client-iot';
import { DEFAULT_THING_NAME_PREFIX, decideReenrolment, enrolmentDay, decideSerial, parseAllowList, type ThingRegistry } from './enrolment-rules.js';
import { awsThingRegistry } from './iot-registry.js';

export interface HookDecision {
  allowProvisioning: boolean;
  parameterOverrides?: Record<string, string>;
}

export interface HookSettings {
  /** undefined: no allow-list. */
  allowedSerials: ReadonlySet<string> | undefined;
  thingNamePrefix: string;
}

export function hookSettings(env: NodeJS.ProcessEnv): HookSettings {
  return { allowedSerials: parseAllowList(env['CLOUDCAM_ALLOWED_SERIALS']), thingNamePrefix: env['CLOUDCAM_THING_NAME_PREFIX'] ?? DEFAULT_THING_NAME_PREFIX };
}

export interface HookOutcome {
  decision: HookDecision;
  serial?: string;
  thingName?: string;
  why: string;
  deactivated: string[];
}

function field(event: unknown, key: string): unknown {
  return typeof event === 'object' && event !== null ? (event as Record<string, unknown>)[key] : undefined;
}

export async function decideProvisioning(event: unknown, settings: HookSettings, registry: ThingRegistry, now = Date.now()): Promise<HookOutcome> {
  const refused = { allowProvisioning: false };
  const bySerial = decideSerial(field(event, 'parameters'), settings.allowedSerials);
  const serial = bySerial.serial;
  if (!bySerial.allow || serial === undefined) return { decision: refused, ...(serial !== undefined ? { serial } : {}), why: bySerial.why, deactivated: [] };
  const certificateId = field(event, 'certificateId');
  if (typeof certificateId !== 'string' || certificateId === '') return { decision: refused, serial, why: 'no certificateId in the hook event', deactivated: [] };
  const thingName = `${settings.thingNamePrefix}${serial}`;
  const byThing = await decideReenrolment(registry, thingName, serial, certificateId, now);
  return {
    decision: byThing.allow ? { allowProvisioning: true, parameterOverrides: { SerialNumber: serial, EnrolledAt: byThing.enrolledAt ?? enrolmentDay(undefined, now) } } : refused,
    serial,
    thingName,
    why: byThing.allow ? `${bySerial.why}; ${byThing.why}` : byThing.why,
    deactivated: byThing.deactivated,
  };
}

/**
 * The Lambda handler over a registry (made on first use). Logs the serial, the reason and any
 * deactivated certificate ids, never the certificate or the CSR. A failing registry call refuses
 * (fails closed) and is logged.
 */
export function provisioningHook(makeRegistry: () => ThingRegistry, env: NodeJS.ProcessEnv = process.env): (event: unknown) => Promise<HookDecision> {
  let registry: ThingRegistry | undefined;
  return async (event) => {
    registry ??= makeRegistry();
    let outcome: HookOutcome;
    try {
      outcome = await decideProvisioning(event, hookSettings(env), registry);
    } catch (err) {
      console.error(JSON.stringify({ msg: 'provisioning refused: the registry lookup failed', err: (err as Error).message, name: (err as Error).name }));
      return { allowProvisioning: false };
    }
    const { decision, serial, thingName, why, deactivated } = outcome;
    const log = decision.allowProvisioning ? console.log : console.warn;
    log(JSON.stringify({ msg: decision.allowProvisioning ? 'provisioning allowed' : 'provisioning refused', serial, thingName, why, deactivated }));
    return decision;
  };
}

/** Lambda entry point. */
export const handler = provisioningHook(() => awsThingRegistry(new IoTClient({})));
