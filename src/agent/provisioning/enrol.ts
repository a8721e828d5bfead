/**
 * One enrolment over MQTT with the claim certificate: CreateCertificateFromCsr, then RegisterThing
 * (AWS IoT Developer Guide, "Device provisioning MQTT API"). Subscribes to the exact reply topics
 * before each request, as AWS asks and as the claim policy allows (no wildcards). Every failure is an
 * EnrolError whose message says what to fix.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  CREATE_FROM_CSR_TOPIC,
  isReplyTo,
  parseCreateFromCsrAccepted,
  parseProvisioningError,
  parseRegisterThingAccepted,
  provisionTopic,
  reenrolCommand,
  replyTopics,
  type ProvisioningError,
} from '../../protocol/fleet-provisioning.js';
import type { DeviceKey } from './csr.js';

export class EnrolError extends Error {
  constructor(
    message: string,
    readonly step: 'claim-files' | 'connect' | 'subscribe' | 'create-certificate' | 'register-thing',
    readonly rejection?: ProvisioningError,
  ) {
    super(message);
    this.name = 'EnrolError';
  }
}

export interface EnrolOptions {
  endpoint: string;
  port: number;
  mqttVersion: 4 | 5;
  caPath: string;
  claimCertPath: string;
  claimKeyPath: string;
  /** `cloudcam-claim-{serial}`: the claim policy allows iot:Connect for that prefix only. */
  clientId: string;
  templateName: string;
  parameters: Record<string, string>;
  key: DeviceKey;
  csrPem: string;
  connectTimeoutMs: number;
  /** How long CreateCertificateFromCsr may take; RegisterThing gets REGISTER_TIMEOUT_FACTOR times this. */
  replyTimeoutMs: number;
  signal?: AbortSignal;
}

/**
 * RegisterThing is where the cloud commits: once it has registered the thing, the certificate the
 * agent abandons stays ACTIVE and the enrolment rules refuse every retry (src/cloud/enrolment-rules.ts),
 * locking the camera out until an operator allows a re-enrolment. The fleet run showed replies taking
 * longer than 15 s under a claim storm, so the agent waits longer for this one reply; it has nothing
 * else to do before it has an identity.
 */
export const REGISTER_TIMEOUT_FACTOR = 4;

export interface Enrolment {
  thingName: string;
  certificatePem: string;
  certificateId: string;
}

const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const AWS_MQTT_ALPN = 'x-amzn-mqtt-ca';

export async function enrol(o: EnrolOptions): Promise<Enrolment> {
  let ca: Buffer, cert: Buffer, key: Buffer;
  try {
    [ca, cert, key] = await Promise.all([readFile(o.caPath), readFile(o.claimCertPath), readFile(o.claimKeyPath)]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new EnrolError(`cannot read ${e.path ?? 'a claim file'} (${e.code ?? e.message}): check iot.caPath, provisioning.claimCertPath and provisioning.claimKeyPath`, 'claim-files');
  }
  const options: IClientOptions = {
    protocol: 'mqtts',
    host: o.endpoint,
    port: o.port,
    ...(net.isIP(o.endpoint) === 0 ? { servername: o.endpoint } : {}),
    ...(o.port === 443 ? { ALPNProtocols: [AWS_MQTT_ALPN] } : {}),
    ca,
    cert,
    key,
    rejectUnauthorized: true,
    clientId: o.clientId,
    protocolVersion: o.mqttVersion,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: o.connectTimeoutMs,
  };
  let client: MqttClient;
  try {
    client = await mqtt.connectAsync(options);
  } catch (err) {
    throw new EnrolError(
      `cannot connect to ${o.endpoint}:${o.port} with the claim certificate as ${o.clientId} (${(err as Error).message}): check that the claim certificate is ACTIVE, that the claim policy is attached to it and allows iot:Connect for client ids cloudcam-claim-*, and the endpoint and CA`,
      'connect',
    );
  }
  try {
    const csrTopic = CREATE_FROM_CSR_TOPIC;
    const created = await request(client, o, csrTopic, JSON.stringify({ certificateSigningRequest: o.csrPem }), 'create-certificate', (payload) => {
      const accepted = parseCreateFromCsrAccepted(payload);
      // The certificate must carry our public key: anything else is not the answer to our CSR.
      const spki = new X509Certificate(accepted.certificatePem).publicKey.export({ type: 'spki', format: 'der' });
      return spki.equals(o.key.publicKeySpki) ? accepted : undefined;
    });
    const registered = await request(
      client,
      o,
      provisionTopic(o.templateName),
      JSON.stringify({ certificateOwnershipToken: created.certificateOwnershipToken, parameters: o.parameters }),
      'register-thing',
      (payload) => parseRegisterThingAccepted(payload),
    );
    if (!THING_NAME.test(registered.thingName)) {
      throw new EnrolError(`RegisterThing named the thing ${JSON.stringify(registered.thingName)}, which is not a valid thing name: fix the template's ThingName`, 'register-thing');
    }
    return { thingName: registered.thingName, certificatePem: created.certificatePem, certificateId: created.certificateId };
  } finally {
    await client.endAsync().catch(() => client.end(true));
  }
}

const FIX: Record<'create-certificate' | 'register-thing', (o: EnrolOptions, e: ProvisioningError) => string> = {
  'create-certificate': () => 'the CSR was refused; the agent makes a new key and CSR on the next attempt',
  'register-thing': (o, e) =>
    e.statusCode === 403 || /denied|hook|allow/i.test(`${e.errorCode} ${e.errorMessage}`)
      ? hookRefusalFix(o.parameters['SerialNumber'] ?? '?', e)
      : e.errorCode === 'InvalidCertificateOwnershipToken'
        ? 'the ownership token expired or was used (it lives 1 hour); the agent starts over with a new CSR'
        : `check that template ${o.templateName} exists and takes the parameters ${Object.keys(o.parameters).join(', ')}`,
};

/**
 * AWS passes no reason from the pre-provisioning hook to the device (RegisterThing just fails with
 * access denied), so unless the reply names the cause (devcloud does) the fix names every rule it has.
 */
function hookRefusalFix(serial: string, e: ProvisioningError): string {
  const reenrol = `if this camera was enrolled before (reset, replaced storage), an operator must allow one re-enrolment: ${reenrolCommand(serial)}`;
  if (/active certificate/i.test(e.errorMessage)) return `serial ${serial} is already enrolled; ${reenrol}`;
  return `add serial ${serial} to the allow-list (deploy with -c allowedSerials=...); or, ${reenrol}; or check the template's provisioning role`;
}

/** Subscribes to the reply topics, publishes, and waits for this request's accepted or rejected reply. */
async function request<T>(
  client: MqttClient,
  o: EnrolOptions,
  topic: string,
  payload: string,
  step: 'create-certificate' | 'register-thing',
  accept: (payload: Buffer) => T | undefined,
): Promise<T> {
  const replies = replyTopics(topic);
  const operation = step === 'create-certificate' ? 'CreateCertificateFromCsr' : 'RegisterThing';
  const timeoutMs = step === 'register-thing' ? o.replyTimeoutMs * REGISTER_TIMEOUT_FACTOR : o.replyTimeoutMs;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.off('message', onMessage);
      client.off('close', onClose);
      o.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onMessage = (t: string, body: Buffer): void => {
      if (t !== replies.accepted && t !== replies.rejected) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString());
      } catch {
        return;
      }
      if (!isReplyTo(parsed, payload)) return; // another claim client's reply (devcloud only)
      if (t === replies.rejected) {
        const e = parseProvisioningError(body);
        finish(() => reject(new EnrolError(`${operation} rejected: ${e.statusCode} ${e.errorCode}: ${e.errorMessage}; ${FIX[step](o, e)}`, step, e)));
        return;
      }
      let value: T | undefined;
      try {
        value = accept(body);
      } catch (err) {
        finish(() => reject(new EnrolError(`${operation} accepted reply is malformed (${(err as Error).message})`, step)));
        return;
      }
      if (value !== undefined) finish(() => resolve(value));
    };
    const onClose = (): void =>
      finish(() =>
        reject(new EnrolError(`the broker closed the claim connection during ${operation}: the claim policy most likely does not allow iot:Publish on ${topic}`, step)),
      );
    const onAbort = (): void => finish(() => reject(new EnrolError(`${operation} abandoned: the agent is stopping`, step)));
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new EnrolError(
              `no reply to ${operation} within ${timeoutMs} ms on ${replies.accepted} or /rejected: check that the claim policy allows iot:Publish on ${topic} and iot:Subscribe/iot:Receive on its replies, and that template ${o.templateName} exists`,
              step,
            ),
          ),
        ),
      timeoutMs,
    );
    client.on('message', onMessage);
    client.on('close', onClose);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    client
      .subscribeAsync([replies.accepted, replies.rejected], { qos: 1 })
      .then((granted) => {
        const refused = granted.filter((g) => g.qos >= 0x80).map((g) => g.topic);
        if (refused.length > 0) {
          throw new EnrolError(`the broker refused the subscription to ${refused.join(', ')}: the claim policy must allow iot:Subscribe on them`, 'subscribe');
        }
        return client.publishAsync(topic, payload, { qos: 1 });
      })
      .catch((err: unknown) => finish(() => reject(err instanceof EnrolError ? err : new EnrolError(`${operation} could not be sent: ${(err as Error).message}`, step))));
  });
}
