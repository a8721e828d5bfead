/**
 * devcloud's thing registry for the enrolment rules (src/cloud/enrolment-rules.ts), the stand-in for
 * what the pre-provisioning hook reads and changes in AWS IoT:
 *  - a thing's ACTIVE certificates: the provisioned certificates attached to it (devcloud's live
 *    `provisioned.json` map, CN -> thing); a certificate is named by its CN `cert-{serial}`;
 *  - the operator's permission: reenrol-permits.ts;
 *  - the thing's enrolment day (AWS: the attribute enrolledAt): enrolments.ts;
 *  - deactivation (AWS: UpdateCertificate INACTIVE): the serial goes on the CRL, the certificate is
 *    detached from the thing, and the broker re-reads the CRL and disconnects it.
 */
import type { ThingRegistry } from '../../cloud/enrolment-rules.js';
import type { Broker } from '../broker/types.js';
import { PROVISIONED_PREFIX } from '../broker/acl.js';
import { revokeSerial } from '../crl.js';
import type { CertificateAuthority } from '../pki.js';
import { readEnrolment } from './enrolments.js';
import { readReenrolPermit, useReenrolPermit } from './reenrol-permits.js';

export interface DevcloudRegistryOptions {
  stateDir: string;
  crlPath: string;
  ca: CertificateAuthority;
  /** Provisioned certificate CN -> thing, for active certificates only (devcloud's live map). */
  attached: Record<string, string>;
  /** Writes `attached` to disk. */
  persist: () => Promise<void>;
  /** The running broker (a new object after a broker restart). */
  broker: () => Broker;
}

/** The serial number of a certificate devcloud signed from a CSR, from its CN (mqtt-service.ts makes both). */
export function serialOfIdentity(identity: string): string {
  const serial = identity.slice(PROVISIONED_PREFIX.length);
  if (!identity.startsWith(PROVISIONED_PREFIX) || !/^[0-9a-f]+$/.test(serial)) throw new Error(`${identity} is not a certificate devcloud signed from a CSR`);
  return serial;
}

export function devcloudThingRegistry(o: DevcloudRegistryOptions): ThingRegistry {
  return {
    async lookup(thingName, newCertificate) {
      const active = Object.entries(o.attached)
        .filter(([identity, thing]) => thing === thingName && identity !== newCertificate)
        .map(([identity]) => identity);
      const [until, enrolledAt] = await Promise.all([readReenrolPermit(o.stateDir, thingName), readEnrolment(o.stateDir, thingName)]);
      return { activeCertificates: active, ...(until !== undefined ? { reenrolAllowedUntil: until } : {}), ...(enrolledAt !== undefined ? { enrolledAt } : {}) };
    },
    useReenrolPermission: (thingName) => useReenrolPermit(o.stateDir, thingName),
    async deactivate(identity) {
      await revokeSerial(o.crlPath, o.ca, serialOfIdentity(identity));
      delete o.attached[identity];
      await o.persist();
      await o.broker().revoke(identity);
    },
  };
}
