/**
 * Names and MQTT topics of the AWS IoT Device Shadow service, as the service side sees them:
 * request topics to subscribe to, the topic a request arrived on, and the response topics.
 */

/** Thing names (API reference, GetThingShadow): 1-128 of [a-zA-Z0-9:_-]. */
export const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
/** Shadow names (API reference, GetThingShadow): 1-64 of [$a-zA-Z0-9:_-]. */
export const SHADOW_NAME = /^[$a-zA-Z0-9:_-]{1,64}$/;

export type ShadowOperation = 'get' | 'update' | 'delete';
export type ResponseKind = 'accepted' | 'rejected' | 'delta' | 'documents';

export interface ShadowKey {
  thing: string;
  /** undefined = the classic (unnamed) shadow. */
  shadow?: string;
}

/** What a client publishes to; '+' covers every thing (and every named shadow). */
export const REQUEST_FILTERS: readonly string[] = [
  '$aws/things/+/shadow/get',
  '$aws/things/+/shadow/update',
  '$aws/things/+/shadow/delete',
  '$aws/things/+/shadow/name/+/get',
  '$aws/things/+/shadow/name/+/update',
  '$aws/things/+/shadow/name/+/delete',
];

export interface ShadowRequestTopic {
  key: ShadowKey;
  operation: ShadowOperation;
}

const OPERATIONS: ReadonlySet<string> = new Set(['get', 'update', 'delete']);

/** The shadow and operation of a request topic; undefined for any other topic (responses included). */
export function parseRequestTopic(topic: string): ShadowRequestTopic | undefined {
  const parts = topic.split('/');
  if (parts[0] !== '$aws' || parts[1] !== 'things' || parts[3] !== 'shadow') return undefined;
  const thing = parts[2] ?? '';
  if (parts.length === 5) {
    const operation = parts[4] ?? '';
    return OPERATIONS.has(operation) ? { key: { thing }, operation: operation as ShadowOperation } : undefined;
  }
  if (parts.length === 7 && parts[4] === 'name') {
    const operation = parts[6] ?? '';
    const shadow = parts[5] ?? '';
    return OPERATIONS.has(operation) ? { key: { thing, shadow }, operation: operation as ShadowOperation } : undefined;
  }
  return undefined;
}

export function shadowPrefix(key: ShadowKey): string {
  return key.shadow === undefined
    ? `$aws/things/${key.thing}/shadow`
    : `$aws/things/${key.thing}/shadow/name/${key.shadow}`;
}

export function responseTopic(key: ShadowKey, operation: ShadowOperation, kind: ResponseKind): string {
  return `${shadowPrefix(key)}/${operation}/${kind}`;
}

/** How AWS names a shadow in messages: the thing for the classic shadow, thing~shadow for a named one. */
export function displayName(key: ShadowKey): string {
  return key.shadow === undefined ? key.thing : `${key.thing}~${key.shadow}`;
}
