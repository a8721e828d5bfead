import type { Logger } from '../lib/log.js';
import type { VapixClient } from '../protocol/vapix/client.js';
import type { CameraAccess } from './camera-access.js';
import type { AgentConfig } from './config/index.js';
import type { AgentConnection, ConnectionEvents } from './connection.js';

/**
 * What a feature may do with the MQTT connection: publish, subscribe, read messages, and hand it new
 * TLS files. main.ts owns the rest: starting and stopping it, and its connect/disconnect events,
 * which reach features as `onConnected`/`onDisconnected` (isolated, in order: feature-calls.ts).
 */
export interface FeatureConnection extends Pick<AgentConnection, 'connected' | 'tlsFiles' | 'publish' | 'subscribe' | 'reconnectWith'> {
  on(event: 'message', listener: (...args: ConnectionEvents['message']) => void): unknown;
  off(event: 'message', listener: (...args: ConnectionEvents['message']) => void): unknown;
}

/**
 * The one context every feature gets (main.ts builds it once). A new feature reads what it needs
 * from here; what only one feature uses (the request journal, the identity trial) is its own second
 * argument. Extend it with fields every feature could use, not with one feature's options.
 */
export interface FeatureContext {
  /** The validated settings; `config.thingName` is final (after fleet provisioning). */
  readonly config: AgentConfig;
  /** The thing name: MQTT client id and topic prefix. */
  readonly thing: string;
  readonly connection: FeatureConnection;
  /** VAPIX, with the credentials camera-access.ts chose. */
  readonly camera: VapixClient;
  /** Where VAPIX calls go and with which credentials (the event stream opens its own socket). */
  readonly cameraAccess: CameraAccess;
  /** The agent's version (presence, status). */
  readonly version: string;
  readonly log: Logger;
  /** The device clock (tests shift it). */
  readonly now: () => Date;
}

/** One agent feature (presence, snapshot, schedule, ...): started after wiring, stopped on shutdown. */
export interface Feature {
  readonly name: string;
  start(): Promise<void>;
  /**
   * Runs on every (re)connect, feature after feature in the agent's order: the snapshot feature has
   * subscribed and read its shadow before presence announces `online` (which makes the cloud write a
   * new request), so a request written while the agent was offline is read first, never overwritten
   * unseen.
   * Contract: never throws or rejects; a feature catches and logs its own errors. main still isolates
   * each call (feature-calls.ts) so that a broken feature cannot stop the others or later reconnects.
   */
  onConnected?(): Promise<void>;
  /**
   * Runs at once on every connection loss, for every feature (not queued behind a connect round).
   * Same contract as onConnected; isolated the same way.
   */
  onDisconnected?(reason: string): void | Promise<void>;
  /** Finishes or abandons in-flight work within its own bound; never throws. */
  stop(): Promise<void>;
}
