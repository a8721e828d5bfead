/**
 * The fleet provisioning pre-provisioning hook (AWS IoT calls it on every RegisterThing): lets a
 * camera through only when its serial number is on the allow-list, so a leaked claim certificate
 * cannot enrol arbitrary devices. Input/output: AWS IoT Developer Guide, "Pre-provisioning hooks".
 */

export interface HookDecision {
  allowProvisioning: boolean;
}

/** Axis serial numbers are the MAC address: 12 hex digits. Compared upper-case. */
const SERIAL = /^[0-9A-F]{12}$/;

export function parseAllowList(value: string | undefined): Set<string> {
  return new Set(
    (value ?? '')
      .split(/[\s,]+/)
      .map((s) => s.trim().toUpperCase())
      .filter((s) => s !== ''),
  );
}

export function decideProvisioning(event: unknown, allowed: ReadonlySet<string>): { decision: HookDecision; serial?: string; why: string } {
  const params = typeof event === 'object' && event !== null ? (event as { parameters?: unknown }).parameters : undefined;
  const raw = typeof params === 'object' && params !== null ? (params as Record<string, unknown>)['SerialNumber'] : undefined;
  if (typeof raw !== 'string') return { decision: { allowProvisioning: false }, why: 'no SerialNumber parameter in the RegisterThing request' };
  const serial = raw.trim().toUpperCase();
  if (!SERIAL.test(serial)) return { decision: { allowProvisioning: false }, serial, why: 'SerialNumber is not 12 hex digits' };
  if (allowed.size === 0) {
    return { decision: { allowProvisioning: false }, serial, why: 'the allow-list is empty: set CLOUDCAM_ALLOWED_SERIALS (deploy with -c allowedSerials=...)' };
  }
  if (!allowed.has(serial)) return { decision: { allowProvisioning: false }, serial, why: 'serial number is not on the allow-list' };
  return { decision: { allowProvisioning: true }, serial, why: 'serial number is on the allow-list' };
}

/** Lambda entry point. Logs the serial and the reason, never the certificate or the CSR. */
export async function handler(event: unknown): Promise<HookDecision> {
  const { decision, serial, why } = decideProvisioning(event, parseAllowList(process.env['CLOUDCAM_ALLOWED_SERIALS']));
  const log = decision.allowProvisioning ? console.log : console.warn;
  log(JSON.stringify({ msg: decision.allowProvisioning ? 'provisioning allowed' : 'provisioning refused', serial, why }));
  return Promise.resolve(decision);
}
