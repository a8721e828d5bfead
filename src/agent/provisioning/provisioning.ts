/**
 * Fleet provisioning by claim: the step before the agent's connection starts.
 *
 * A bundle may carry a claim certificate (provisioning.claimCertPath/claimKeyPath, a template name).
 * On a start without an identity of its own (identity-store.ts), the agent
 *  1. reads its serial number and model over VAPIX (basicdeviceinfo.cgi);
 *  2. makes a key (ECDSA P-256 by default) and a CSR in memory (csr.ts): the key never leaves it;
 *  3. connects with the claim certificate as `cloudcam-claim-{serial}` and calls
 *     CreateCertificateFromCsr, then RegisterThing with {SerialNumber, Model} (enrol.ts);
 *  4. writes key, certificate and identity.json atomically (0600), and continues as the thing that
 *     RegisterThing named (client id, topics).
 * The key is written only after RegisterThing accepted: a key written earlier would be useless after
 * a crash anyway (the certificate is PENDING_ACTIVATION until RegisterThing, and AWS deletes it with
 * its ownership token after an hour), so a crash anywhere means "enrol again from step 1".
 * A failed attempt is logged once per distinct cause with its fix, then retried with backoff
 * (full jitter, iot.reconnect bounds) until it succeeds or the agent stops.
 */
import type { Logger } from '../../lib/log.js';
import type { AgentConfig } from '../config/index.js';
import { Backoff } from '../backoff.js';
import { createCsr, generateDeviceKey } from './csr.js';
import { enrol, EnrolError } from './enrol.js';
import { readIdentity, writeIdentity } from './identity-store.js';

/** The claim policy of the deployed stack allows iot:Connect for this prefix only (infra/iot-policies.ts). */
export const CLAIM_CLIENT_ID_PREFIX = 'cloudcam-claim-';
const REPLY_TIMEOUT_MS = 15_000;

export interface DeviceInfoSource {
  basicDeviceInfo(): Promise<Record<string, string>>;
}

export interface ProvisioningOptions {
  log: Logger;
  camera: DeviceInfoSource;
  signal?: AbortSignal;
  replyTimeoutMs?: number;
  random?: () => number;
}

export function isClaimMode(config: AgentConfig): boolean {
  return config.provisioning.claimCertPath !== '';
}

/**
 * Returns the config with the thing name of the camera's own identity, enrolling first if it has none.
 * Without a claim certificate configured it returns the config unchanged.
 */
export async function ensureIdentity(config: AgentConfig, opts: ProvisioningOptions): Promise<AgentConfig> {
  if (!isClaimMode(config)) return config;
  const log = opts.log.child({ component: 'provisioning' });
  const paths = { certPath: config.iot.certPath, keyPath: config.iot.keyPath, stateDir: config.stateDir };
  const own = await readIdentity(paths, config.thingName);
  if ('thingName' in own) {
    log.info({ event: 'provisioning.identity-found', thingName: own.thingName }, `using the stored identity of ${own.thingName}`);
    return { ...config, thingName: own.thingName };
  }
  log.info({ event: 'provisioning.start', why: own.missing, template: config.provisioning.templateName }, `no identity of its own (${own.missing}): enrolling with the claim certificate`);
  const backoff = new Backoff({ minMs: config.iot.reconnect.minMs, maxMs: config.iot.reconnect.maxMs, ...(opts.random ? { random: opts.random } : {}) });
  let lastCause: string | undefined;
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      const thingName = await attemptEnrolment(config, opts, log, paths);
      return { ...config, thingName };
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const cause = err instanceof EnrolError ? `${err.step}:${err.rejection?.errorCode ?? ''}` : (err as Error).message;
      const fields = { event: 'provisioning.failed', attempt, step: err instanceof EnrolError ? err.step : 'camera' };
      if (cause !== lastCause) log.error(fields, `enrolment failed: ${(err as Error).message}`);
      else log.debug(fields, `enrolment still failing: ${(err as Error).message}`);
      lastCause = cause;
    }
    await sleep(backoff.next(), opts.signal);
  }
}

async function attemptEnrolment(
  config: AgentConfig,
  opts: ProvisioningOptions,
  log: Logger,
  paths: { certPath: string; keyPath: string; stateDir: string },
): Promise<string> {
  let info: Record<string, string>;
  try {
    info = await opts.camera.basicDeviceInfo();
  } catch (err) {
    throw new Error(`cannot read the serial number over VAPIX (${(err as Error).message}): check camera.url, camera.username and camera.password`, { cause: err });
  }
  const serial = (info['SerialNumber'] ?? '').trim().toUpperCase();
  if (!/^[0-9A-Z]{1,64}$/.test(serial)) throw new Error(`the camera reported no usable SerialNumber (${JSON.stringify(info['SerialNumber'] ?? null)}) in basicdeviceinfo.cgi`);
  const model = info['ProdNbr'] ?? info['ProdShortName'] ?? 'unknown';
  const key = generateDeviceKey(config.provisioning.keyType);
  const csrPem = createCsr(key, serial);
  const clientId = `${CLAIM_CLIENT_ID_PREFIX}${serial}`;
  log.info({ event: 'provisioning.requesting', clientId, serial, model }, `requesting a certificate as ${clientId}`);
  const enrolment = await enrol({
    endpoint: config.iot.endpoint,
    port: config.iot.port,
    mqttVersion: config.iot.mqttVersion,
    caPath: config.iot.caPath,
    claimCertPath: config.provisioning.claimCertPath,
    claimKeyPath: config.provisioning.claimKeyPath,
    clientId,
    templateName: config.provisioning.templateName,
    parameters: { SerialNumber: serial, Model: model },
    key,
    csrPem,
    connectTimeoutMs: config.iot.connectTimeoutMs,
    replyTimeoutMs: opts.replyTimeoutMs ?? REPLY_TIMEOUT_MS,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const stored = await writeIdentity(paths, { thingName: enrolment.thingName, certificatePem: enrolment.certificatePem, privateKeyPem: key.privateKeyPem });
  log.info(
    { event: 'provisioning.done', thingName: stored.thingName, certificateId: stored.certificateId },
    `enrolled as ${stored.thingName}; identity stored in ${paths.stateDir}`,
  );
  return stored.thingName;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
