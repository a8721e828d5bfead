import type { IClientOptions } from 'mqtt';
import type { Logger } from '../../lib/log.js';
import type { DevPki } from '../pki.js';

export type BrokerKind = 'mosquitto' | 'aedes';

export interface Broker {
  readonly kind: BrokerKind;
  readonly host: string;
  /** The mutual-TLS listener. */
  readonly port: number;
  readonly url: string;
  readonly mqttVersions: readonly (4 | 5)[];
  /**
   * Where and how devcloud's own cloud-side client connects (the CLOUD_IDENTITY), without client id:
   * aedes' mutual-TLS listener; for mosquitto its unix socket, past devcloud's front, which runs in
   * the same process and so could only add a hop on which a broker kill drops the replies in flight.
   * Stays valid across a restart of the broker in this process (same socket path and password).
   */
  cloudClientOptions(): Promise<IClientOptions>;
  /**
   * Lets a certificate made by fleet provisioning (CN `cert-...`) act as `thing` from now on: the
   * thing's topics, client id = thing name. mosquitto learns it over its dynamic-security API.
   */
  attach(identity: string, thing: string): Promise<void>;
  /**
   * After devcloud put a certificate on pki.crlPath (crl.ts): re-reads the list, so new TLS handshakes
   * with it fail, and closes the live connections of `identity` (AWS disconnects a certificate set
   * INACTIVE). Resolves when both are done.
   */
  revoke(identity: string): Promise<void>;
  /** Resolves when no process or socket of the broker is left. */
  stop(): Promise<void>;
  /** Ends the broker abruptly, as a crash would (mosquitto: SIGKILL); resolves when it is gone. */
  kill(): Promise<void>;
}

export interface BrokerOptions {
  /** Default: mosquitto when findMosquitto() finds it, else aedes. */
  kind?: BrokerKind;
  pki: DevPki;
  /** Where mosquitto's generated config and ACL go. */
  workDir: string;
  /** Fixed port, e.g. to restart on the same port in tests; default: a free one. */
  port?: number;
  /**
   * Identities mosquitto must know by name besides CLOUD_IDENTITY and the things in pki.devices, e.g.
   * claim-* certificates or things provisioned later (mosquitto's ACL is per name). aedes applies the
   * rules of acl.ts to any CN and ignores this.
   */
  extraIdentities?: string[];
  /** Provisioned certificate identity -> thing, from earlier runs (devcloud persists them). */
  attached?: Record<string, string>;
  log?: Logger;
}

export const BROKER_HOST = '127.0.0.1';
