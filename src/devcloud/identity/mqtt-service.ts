/**
 * devcloud's stand-in for AWS IoT fleet provisioning (AWS IoT Developer Guide, "Device provisioning
 * MQTT API", "Provisioning templates"): answers CreateCertificateFromCsr (verifies the CSR, signs it
 * with the dev CA, hands out a certificateOwnershipToken valid for one hour) and RegisterThing
 * (checks the token, the template name and its parameters, applies the deployed pre-provisioning
 * hook's rules from src/cloud/enrolment-rules.ts: the serial allow-list and "an enrolled serial needs an
 * operator's permission, and then its old certificate is deactivated", names the thing
 * `{prefix}{SerialNumber}` like the deployed template, and attaches the thing to the certificate in the broker).
 *
 * Differences from AWS, on purpose: every reply carries DEVCLOUD_REQUEST_FIELD (a shared local
 * broker delivers each reply to every claim client; AWS answers only the asking connection), and
 * the certificate's CN is `cert-{its serial number}` so the broker can tell provisioned certificates apart
 * and devcloud can revoke one by its CN.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { decideReenrolment, decideSerial, enrolmentDay, type ThingRegistry } from '../../cloud/enrolment-rules.js';
import type { IClientPublishOptions, MqttClient } from 'mqtt';
import type { Logger } from '../../lib/log.js';
import {
  CREATE_FROM_CSR_TOPIC,
  DEVCLOUD_REQUEST_FIELD,
  parseCreateFromCsrRequest,
  parseRegisterThingRequest,
  replyTopics,
  requestDigest,
  type ProvisioningError,
} from '../../protocol/fleet-provisioning.js';
import { PROVISIONED_PREFIX, isThingName } from '../broker/acl.js';
import { randomSerial, signCsr, type CertificateAuthority } from '../pki.js';

export const TOKEN_TTL_MS = 3600_000;
const PROVISION_FILTER = '$aws/provisioning-templates/+/provision/json';
const PROVISION_TOPIC = /^\$aws\/provisioning-templates\/([^/]+)\/provision\/json$/;

export interface Registration {
  identity: string;
  thingName: string;
  certificateId: string;
  serialNumber: string;
  /** The enrolment day the template records (the thing attribute enrolledAt): the rules' day, never the device's EnrolledAt parameter. */
  enrolledAt: string;
}

export interface IdentityServiceOptions {
  /** Connected with the devcloud identity. */
  client: MqttClient;
  ca: CertificateAuthority;
  /** Lets the new certificate act as the thing on the broker. */
  attach: (identity: string, thing: string) => Promise<void>;
  templateName: string;
  /** Thing name = prefix + SerialNumber (the deployed template: `cloudcam-`). */
  thingNamePrefix: string;
  /** Serial numbers allowed to enrol (upper-case); undefined: any. */
  allowedSerials?: ReadonlySet<string>;
  /** Things and their certificates, for the re-enrolment rule (registry.ts). */
  registry: ThingRegistry;
  /** Called after the thing is attached, before the accepted reply (devcloud persists it). */
  onRegistered?: (r: Registration) => Promise<void>;
  now?: () => number;
  log?: Logger;
}

export interface IdentityService {
  readonly registrations: readonly Registration[];
  /** Fault tests: RegisterThing answers after this long (a slow pre-provisioning hook or registry). */
  setFaults(faults: { registerDelayMs?: number }): void;
  stop(): Promise<void>;
}

class Rejection extends Error {
  constructor(readonly body: ProvisioningError) {
    super(body.errorMessage);
  }
}

const reject = (statusCode: number, errorCode: string, errorMessage: string): Rejection => new Rejection({ statusCode, errorCode, errorMessage });

interface Token {
  identity: string;
  certificateId: string;
  expiresAt: number;
}

export async function startIdentityService(opts: IdentityServiceOptions): Promise<IdentityService> {
  const { client, log } = opts;
  const now = opts.now ?? Date.now;
  const tokens = new Map<string, Token>();
  const registrations: Registration[] = [];

  const reply = (topic: string, body: object, request: Buffer, correlationData?: Buffer): void => {
    const options: IClientPublishOptions = { qos: 1, ...(correlationData ? { properties: { correlationData } } : {}) };
    client.publish(topic, JSON.stringify({ ...body, [DEVCLOUD_REQUEST_FIELD]: requestDigest(request) }), options, (err) => {
      if (err) log?.warn({ topic, err: err.message }, 'provisioning reply not published');
    });
  };

  async function createFromCsr(payload: Buffer): Promise<object> {
    let csr: string;
    try {
      csr = parseCreateFromCsrRequest(payload).certificateSigningRequest;
    } catch (err) {
      throw reject(400, 'InvalidPayload', (err as Error).message);
    }
    // The CN carries the serial number, so the certificate can later be put on the CRL by its CN alone.
    const serialNumber = randomSerial();
    const identity = `${PROVISIONED_PREFIX}${serialNumber}`;
    let signed: { certPem: string; certificateId: string };
    try {
      signed = await signCsr(opts.ca, csr, { commonName: identity, serialNumber });
    } catch (err) {
      throw reject(400, 'InvalidCsr', (err as Error).message);
    }
    const token = randomBytes(48).toString('base64url');
    for (const [t, v] of tokens) if (v.expiresAt <= now()) tokens.delete(t);
    tokens.set(token, { identity, certificateId: signed.certificateId, expiresAt: now() + TOKEN_TTL_MS });
    log?.info({ certificateId: signed.certificateId }, 'certificate created from CSR');
    return { certificateId: signed.certificateId, certificatePem: signed.certPem, certificateOwnershipToken: token };
  }

  async function registerThing(template: string, payload: Buffer): Promise<object> {
    if (template !== opts.templateName) throw reject(404, 'ResourceNotFoundException', `Template ${template} not found`);
    let req: { certificateOwnershipToken: string; parameters: Record<string, string> };
    try {
      req = parseRegisterThingRequest(payload);
    } catch (err) {
      if (/certificateOwnershipToken/.test((err as Error).message)) throw reject(400, 'InvalidCertificateOwnershipToken', 'Certificate ownership token cannot be empty.');
      throw reject(400, 'InvalidPayload', (err as Error).message);
    }
    const token = tokens.get(req.certificateOwnershipToken);
    if (!token) throw reject(400, 'InvalidCertificateOwnershipToken', 'Certificate ownership token is invalid or was already used.');
    if (token.expiresAt <= now()) {
      tokens.delete(req.certificateOwnershipToken);
      throw reject(400, 'InvalidCertificateOwnershipToken', 'Certificate ownership token has expired; call CreateCertificateFromCsr again.');
    }
    if (!req.parameters['SerialNumber']) throw reject(400, 'InvalidParameters', 'Missing required parameter: SerialNumber');
    // The deployed pre-provisioning hook's rules (src/cloud/enrolment-rules.ts); AWS answers its refusals with access denied.
    const bySerial = decideSerial(req.parameters, opts.allowedSerials);
    if (!bySerial.allow || bySerial.serial === undefined) throw reject(403, 'AccessDeniedException', `Pre-provisioning hook refused: ${bySerial.why}`);
    const serial = bySerial.serial; // upper-case, as the hook's parameterOverrides pins it
    const thingName = `${opts.thingNamePrefix}${serial}`;
    if (!isThingName(thingName)) throw reject(400, 'InvalidParameters', `Parameter SerialNumber makes the invalid thing name ${JSON.stringify(thingName)}`);
    // One thing's registrations are decided one at a time: the rules read the thing's active
    // certificates, and a second registration racing the first (a camera that retried after a late
    // reply, under a claim storm) must see the first one's certificate, or both get through.
    return oneAtATime(thingName, async () => {
      if (faults.registerDelayMs) await delay(faults.registerDelayMs);
      const byThing = await decideReenrolment(opts.registry, thingName, serial, token.identity, now());
      if (!byThing.allow) throw reject(403, 'AccessDeniedException', `Pre-provisioning hook refused: ${byThing.why}`);
      if (byThing.deactivated.length > 0) log?.warn({ thingName, deactivated: byThing.deactivated }, 'operator-allowed re-enrolment: old certificates deactivated');
      if (!tokens.delete(req.certificateOwnershipToken)) throw reject(400, 'InvalidCertificateOwnershipToken', 'Certificate ownership token is invalid or was already used.'); // single use
      await opts.attach(token.identity, thingName);
      const enrolledAt = byThing.enrolledAt ?? enrolmentDay(undefined, now());
      const registration: Registration = { identity: token.identity, thingName, certificateId: token.certificateId, serialNumber: serial, enrolledAt };
      registrations.push(registration);
      await opts.onRegistered?.(registration);
      log?.info({ thingName, certificateId: token.certificateId }, 'thing registered');
      return { deviceConfiguration: {}, thingName };
    });
  }

  let faults: { registerDelayMs?: number } = {};
  const queues = new Map<string, Promise<unknown>>();
  function oneAtATime<T>(thingName: string, work: () => Promise<T>): Promise<T> {
    const previous = queues.get(thingName) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    queues.set(thingName, tail);
    void tail.then(() => {
      if (queues.get(thingName) === tail) queues.delete(thingName);
    });
    return next;
  }

  const onMessage = (topic: string, payload: Buffer, packet: { properties?: { correlationData?: Buffer } }): void => {
    const template = PROVISION_TOPIC.exec(topic)?.[1];
    if (topic !== CREATE_FROM_CSR_TOPIC && template === undefined) return;
    const replies = replyTopics(topic);
    const work = template === undefined ? createFromCsr(payload) : registerThing(template, payload);
    const correlationData = packet.properties?.correlationData;
    work.then(
      (body) => reply(replies.accepted, body, payload, correlationData),
      (err: unknown) => {
        const body = err instanceof Rejection ? err.body : { statusCode: 500, errorCode: 'InternalFailure', errorMessage: 'Internal service failure' };
        if (!(err instanceof Rejection)) log?.error({ topic, err: (err as Error).message }, 'provisioning request failed');
        else log?.info({ topic, errorCode: body.errorCode }, `provisioning request rejected: ${body.errorMessage}`);
        reply(replies.rejected, body, payload, correlationData);
      },
    );
  };

  client.on('message', onMessage);
  const filters = [CREATE_FROM_CSR_TOPIC, PROVISION_FILTER];
  const granted = await client.subscribeAsync(filters, { qos: 1 });
  if (granted.some((g) => g.qos >= 0x80)) {
    client.off('message', onMessage);
    throw new Error('the broker refused the identity service its subscriptions: connect it with the devcloud identity');
  }
  log?.info({ template: opts.templateName }, 'fleet provisioning service listening');
  return {
    registrations,
    setFaults: (f) => {
      faults = { ...f };
    },
    async stop() {
      client.off('message', onMessage);
      if (client.connected) await client.unsubscribeAsync(filters).catch(() => undefined);
    },
  };
}
