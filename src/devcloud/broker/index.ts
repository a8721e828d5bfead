/** The devcloud MQTT broker: mutual TLS on 127.0.0.1 and the per-thing ACL of acl.ts. */
import { createLogger } from '../../lib/log.js';
import { startAedes } from './aedes.js';
import { findMosquitto, startMosquitto } from './mosquitto.js';
import type { Broker, BrokerOptions } from './types.js';

export { findMosquitto } from './mosquitto.js';
export type { Broker, BrokerKind, BrokerOptions } from './types.js';
export { CLAIM_PREFIX, CLOUD_IDENTITY, isAllowed, isThingName } from './acl.js';

export async function startBroker(opts: BrokerOptions): Promise<Broker> {
  const kind = opts.kind ?? (findMosquitto() ? 'mosquitto' : 'aedes');
  const log = (opts.log ?? createLogger({ name: 'devcloud' })).child({ component: 'broker', kind });
  return kind === 'mosquitto' ? startMosquitto({ ...opts, log }) : startAedes({ ...opts, log });
}
