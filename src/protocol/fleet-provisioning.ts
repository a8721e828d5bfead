/**
 * The AWS IoT fleet provisioning MQTT API, JSON payload format (AWS IoT Developer Guide, "Device
 * provisioning MQTT API"): CreateCertificateFromCsr and RegisterThing, their topics and payloads.
 * Shared by the agent (device side) and devcloud's identity service (the stand-in for AWS).
 */
import { createHash } from 'node:crypto';

export const CREATE_FROM_CSR_TOPIC = '$aws/certificates/create-from-csr/json';

export function provisionTopic(templateName: string): string {
  return `$aws/provisioning-templates/${templateName}/provision/json`;
}

/** Each request topic answers on `{request}/accepted` or `{request}/rejected`. */
export function replyTopics(requestTopic: string): { accepted: string; rejected: string } {
  return { accepted: `${requestTopic}/accepted`, rejected: `${requestTopic}/rejected` };
}

/**
 * A claim connection's client id starts with this (then the serial number). The claim policy allows
 * iot:Connect on `client/{prefix}*` only (infra/iot-policies.ts; the stack's default), and devcloud's
 * brokers enforce the same (src/devcloud/broker/acl.ts).
 */
export const CLAIM_CLIENT_ID_PREFIX = 'cloudcam-claim-';

/**
 * The operator command that lets an enrolled serial enrol once more (src/cli/fleet-command.ts). The
 * pre-provisioning hook's refusal and the agent's log line both name it.
 */
export function reenrolCommand(serial: string): string {
  return `cloudcam fleet allow-reenrol --serial ${serial}`;
}

/** AWS template names: 1-36 of [0-9A-Za-z_-]. */
export const TEMPLATE_NAME = /^[0-9A-Za-z_-]{1,36}$/;

export interface CreateCertificateFromCsrRequest {
  certificateSigningRequest: string;
}
export interface CreateCertificateFromCsrAccepted {
  certificateOwnershipToken: string;
  certificateId: string;
  certificatePem: string;
}
export interface RegisterThingRequest {
  certificateOwnershipToken: string;
  parameters: Record<string, string>;
}
export interface RegisterThingAccepted {
  deviceConfiguration: Record<string, string>;
  thingName: string;
}
/** The error payload of both operations' /rejected topic. */
export interface ProvisioningError {
  statusCode: number;
  errorCode: string;
  errorMessage: string;
}

/**
 * devcloud only, not AWS: in a shared local broker every claim client subscribed to the reply topics
 * receives every reply, while AWS answers only the connection that asked. devcloud therefore adds
 * this field (the SHA-256 of the request payload, hex) to each reply, and the agent ignores a reply
 * whose field names another request. AWS never sends it; a reply without it is taken as one's own.
 */
export const DEVCLOUD_REQUEST_FIELD = 'devcloudRequestSha256';

export function requestDigest(payload: string | Buffer): string {
  return createHash('sha256').update(payload).digest('hex');
}

/** True unless the reply carries devcloud's request digest and it names another request. */
export function isReplyTo(reply: unknown, requestPayload: string | Buffer): boolean {
  if (typeof reply !== 'object' || reply === null) return true;
  const tag = (reply as Record<string, unknown>)[DEVCLOUD_REQUEST_FIELD];
  return tag === undefined || tag === requestDigest(requestPayload);
}

function object(payload: Buffer | string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString());
  } catch {
    throw new Error(`${what} is not JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

function str(o: Record<string, unknown>, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new Error(`${what} has no ${key} string`);
  return v;
}

function stringMap(v: unknown, key: string, what: string): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what}: ${key} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (typeof val !== 'string') throw new Error(`${what}: ${key}.${k} must be a string`);
    out[k] = val;
  }
  return out;
}

export function parseCreateFromCsrAccepted(payload: Buffer | string): CreateCertificateFromCsrAccepted {
  const what = 'CreateCertificateFromCsr accepted reply';
  const o = object(payload, what);
  return {
    certificateOwnershipToken: str(o, 'certificateOwnershipToken', what),
    certificateId: str(o, 'certificateId', what),
    certificatePem: str(o, 'certificatePem', what),
  };
}

export function parseRegisterThingAccepted(payload: Buffer | string): RegisterThingAccepted {
  const what = 'RegisterThing accepted reply';
  const o = object(payload, what);
  return { thingName: str(o, 'thingName', what), deviceConfiguration: stringMap(o['deviceConfiguration'], 'deviceConfiguration', what) };
}

/** Tolerant: a rejection is reported even when its payload is odd. */
export function parseProvisioningError(payload: Buffer | string): ProvisioningError {
  try {
    const o = object(payload, 'rejection');
    return {
      statusCode: typeof o['statusCode'] === 'number' ? o['statusCode'] : 0,
      errorCode: typeof o['errorCode'] === 'string' ? o['errorCode'] : 'Unknown',
      errorMessage: typeof o['errorMessage'] === 'string' ? o['errorMessage'] : payload.toString().slice(0, 200),
    };
  } catch {
    return { statusCode: 0, errorCode: 'Unknown', errorMessage: payload.toString().slice(0, 200) };
  }
}

export function parseCreateFromCsrRequest(payload: Buffer | string): CreateCertificateFromCsrRequest {
  const what = 'CreateCertificateFromCsr request';
  return { certificateSigningRequest: str(object(payload, what), 'certificateSigningRequest', what) };
}

export function parseRegisterThingRequest(payload: Buffer | string): RegisterThingRequest {
  const what = 'RegisterThing request';
  const o = object(payload, what);
  return { certificateOwnershipToken: str(o, 'certificateOwnershipToken', what), parameters: stringMap(o['parameters'], 'parameters', what) };
}
