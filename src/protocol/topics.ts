/**
 * MQTT topics of the cloudcam contract (docs/protocol.md). Every topic is per thing: AWS IoT policies
 * scope a device to its own topics with `${iot:Connection.Thing.ThingName}`, and AWS advises against
 * wildcard subscriptions on shadow topics, so the agent subscribes to each one by name.
 */

export const DEFAULT_SHADOW_NAME = 'cloudcam';

/** AWS thing names: 1-128 of [a-zA-Z0-9:_-]. */
export const THING_NAME_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;
/** AWS named shadow names: 1-64 of [a-zA-Z0-9:_-]. */
export const SHADOW_NAME_PATTERN = /^[a-zA-Z0-9:_-]{1,64}$/;

export function assertThingName(thing: string): void {
  if (!THING_NAME_PATTERN.test(thing)) {
    throw new Error(`invalid thing name "${thing}": use 1-128 letters, digits, ':', '_' or '-'`);
  }
}

export interface ShadowTopics {
  readonly get: string;
  readonly getAccepted: string;
  readonly getRejected: string;
  readonly update: string;
  readonly updateAccepted: string;
  readonly updateRejected: string;
  readonly updateDelta: string;
  readonly updateDocuments: string;
  readonly delete: string;
  readonly deleteAccepted: string;
  readonly deleteRejected: string;
}

/** Topics of a named shadow, or of the classic shadow when `shadowName` is undefined. */
export function shadowTopics(thing: string, shadowName?: string): ShadowTopics {
  assertThingName(thing);
  const base = shadowName === undefined ? `$aws/things/${thing}/shadow` : `$aws/things/${thing}/shadow/name/${shadowName}`;
  return {
    get: `${base}/get`,
    getAccepted: `${base}/get/accepted`,
    getRejected: `${base}/get/rejected`,
    update: `${base}/update`,
    updateAccepted: `${base}/update/accepted`,
    updateRejected: `${base}/update/rejected`,
    updateDelta: `${base}/update/delta`,
    updateDocuments: `${base}/update/documents`,
    delete: `${base}/delete`,
    deleteAccepted: `${base}/delete/accepted`,
    deleteRejected: `${base}/delete/rejected`,
  };
}

export function presenceTopic(thing: string): string {
  assertThingName(thing);
  return `cloudcam/${thing}/presence`;
}

export function snapshotRequestTopic(thing: string): string {
  assertThingName(thing);
  return `cloudcam/${thing}/snapshot/request`;
}

/** Event records (event snapshots): one small JSON message per uploaded event, QoS 1. */
export function eventsTopic(thing: string): string {
  assertThingName(thing);
  return `cloudcam/${thing}/events`;
}

/** Filters the cloud side (IoT rule, or devcloud's stand-in for it) listens on. */
export const PRESENCE_FILTER = 'cloudcam/+/presence';
export const SNAPSHOT_REQUEST_FILTER = 'cloudcam/+/snapshot/request';

/** The thing name in a `cloudcam/{thing}/...` topic, or undefined. */
export function thingOfCloudcamTopic(topic: string): string | undefined {
  const parts = topic.split('/');
  if (parts[0] !== 'cloudcam' || parts.length < 3) return undefined;
  const thing = parts[1] ?? '';
  return THING_NAME_PATTERN.test(thing) ? thing : undefined;
}
