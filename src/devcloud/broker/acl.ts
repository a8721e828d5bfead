/**
 * Who may use which topics on the devcloud brokers. This table is the one source of truth: mosquitto's
 * dynamic-security config is generated from it and aedes' authorize hooks evaluate it, so both brokers
 * enforce the same policy (the stand-in for the AWS IoT policy attached to each certificate).
 */

import { CLAIM_CLIENT_ID_PREFIX } from '../../protocol/fleet-provisioning.js';

/** CN of the devcloud services' own client certificate (the cloud side). */
export const CLOUD_IDENTITY = 'cloudcam-devcloud';
/** CN prefix of fleet-provisioning claim certificates. */
export const CLAIM_PREFIX = 'claim-';
/**
 * CN prefix of the certificates devcloud's identity service signs from a CSR. Like AWS, it issues the
 * certificate before RegisterThing names the thing, so the CN cannot be the thing name: the thing is
 * attached to the certificate later (attachThing), and its grants follow the attached thing (`%t`),
 * as AWS policies follow `iot:Connection.Thing.ThingName`.
 */
export const PROVISIONED_PREFIX = 'cert-';

/** Certificate identity -> attached thing name, for PROVISIONED_PREFIX identities (process-wide: ids are random). */
const attachments = new Map<string, string>();

export function attachThing(identity: string, thing: string): void {
  if (!identity.startsWith(PROVISIONED_PREFIX) || !NAME_CHARS.test(identity)) throw new Error(`only ${PROVISIONED_PREFIX}* identities get things attached, not ${JSON.stringify(identity)}`);
  assertThingName(thing);
  attachments.set(identity, thing);
}

/** The thing attached to a provisioned certificate, if any. */
export function attachedThing(identity: string): string | undefined {
  return attachments.get(identity);
}

/** AWS IoT thing-name alphabet; it also keeps MQTT wildcards and `/` out of `%u` substitutions. */
const NAME_CHARS = /^[a-zA-Z0-9:_-]{1,128}$/;

export type Role = 'cloud' | 'claim' | 'provisioned' | 'thing';

/**
 * Which MQTT client ids a role may connect with (the iot:Connect resource of its AWS policy):
 * `thing` = exactly the thing name (`%u` for a thing certificate, `%t` for a provisioned one),
 * `prefix` = any id that starts with `value`, `any` = no rule (devcloud's own cloud connections).
 */
export type ClientIdRule = { kind: 'thing' } | { kind: 'prefix'; value: string } | { kind: 'any' };

export interface RoleRule {
  readonly role: Role;
  readonly matches: (identity: string) => boolean;
  readonly clientId: ClientIdRule;
  /** Topic filters granted for publish, subscribe and receive; `%u` stands for the identity, `%t` for its attached thing. */
  readonly topics: readonly string[];
  /**
   * Topics inside `topics` the identity may subscribe to and receive but never publish: what only the
   * cloud sends it (AWS device policy: iot:Subscribe and iot:Receive on them, no iot:Publish).
   */
  readonly receiveOnly?: readonly string[];
}

function thingTopics(variable: '%u' | '%t'): string[] {
  return [`$aws/things/${variable}/shadow/#`, `$aws/things/${variable}/jobs/#`, `cloudcam/${variable}/#`];
}

/** The cloud's requests to a camera (live view, issue 22): a camera that could publish one could make itself or its peers go live. */
function cloudOnlyTopics(variable: '%u' | '%t'): string[] {
  return [`cloudcam/${variable}/live/request`];
}

/** First matching rule wins. To give a role more topics, or to add a role, add one line here. */
export const ACL_RULES: readonly RoleRule[] = [
  // `#` does not match topics that start with `$` (MQTT 3.1.1 section 4.7.2), so `$aws/#` is granted explicitly.
  // `$CONTROL/dynamic-security/#`: devcloud adds provisioned things to mosquitto at run time.
  // The cloud identity is devcloud's own (AWS's cloud side uses IAM, not MQTT); it connects with several ids.
  { role: 'cloud', matches: (id) => id === CLOUD_IDENTITY, clientId: { kind: 'any' }, topics: ['#', '$aws/#', '$CONTROL/dynamic-security/#'] },
  {
    role: 'claim',
    matches: (id) => id.startsWith(CLAIM_PREFIX) && NAME_CHARS.test(id),
    // AWS claim policy: iot:Connect on client/{CLAIM_CLIENT_ID_PREFIX}* (infra/iot-policies.ts).
    clientId: { kind: 'prefix', value: CLAIM_CLIENT_ID_PREFIX },
    topics: ['$aws/certificates/create-from-csr/#', '$aws/provisioning-templates/#'],
  },
  // Until RegisterThing attaches a thing, no topic at all (AWS: the certificate is PENDING_ACTIVATION).
  // AWS device policy: iot:Connect on client/${iot:Connection.Thing.ThingName} only.
  // A thing's own shadow and Jobs topics (the device policy's `$aws/things/${iot:Connection.Thing.ThingName}/...`
  // resources, infra/iot-policies.ts), no other `$aws/things` subtree, and its own cloudcam topics.
  {
    role: 'provisioned',
    matches: (id) => id.startsWith(PROVISIONED_PREFIX) && NAME_CHARS.test(id),
    clientId: { kind: 'thing' },
    topics: thingTopics('%t'),
    receiveOnly: cloudOnlyTopics('%t'),
  },
  { role: 'thing', matches: (id) => isThingName(id), clientId: { kind: 'thing' }, topics: thingTopics('%u'), receiveOnly: cloudOnlyTopics('%u') },
];

export function isThingName(name: string): boolean {
  return NAME_CHARS.test(name) && !name.startsWith(CLAIM_PREFIX) && !name.startsWith(PROVISIONED_PREFIX) && name !== CLOUD_IDENTITY;
}

export function assertThingName(name: string): void {
  if (isThingName(name)) return;
  throw new Error(
    `invalid thing name ${JSON.stringify(name)}: use 1-128 characters from [a-zA-Z0-9:_-], ` +
      `not starting with "${CLAIM_PREFIX}" or "${PROVISIONED_PREFIX}" and not "${CLOUD_IDENTITY}" (reserved identities)`,
  );
}

export function ruleFor(identity: string): RoleRule | undefined {
  return ACL_RULES.find((rule) => rule.matches(identity));
}

/** The thing an identity acts as: itself for a thing certificate, the attached thing for a provisioned one. */
export function thingOf(identity: string): string | undefined {
  const role = ruleFor(identity)?.role;
  if (role === 'thing') return identity;
  if (role === 'provisioned') return attachedThing(identity);
  return undefined;
}

/**
 * Why `identity` may not connect with `clientId`, or undefined when it may. Both brokers ask this
 * before a session is created, so a refused connection never takes over the real one's session.
 */
export function clientIdRefusal(identity: string, clientId: string): string | undefined {
  const rule = ruleFor(identity);
  if (!rule) return `certificate CN ${JSON.stringify(identity)} matches no ACL role`;
  const want = rule.clientId;
  if (want.kind === 'any') return undefined;
  if (want.kind === 'prefix') {
    return clientId.startsWith(want.value) && clientId.length > want.value.length
      ? undefined
      : `a ${rule.role} certificate must connect with a client id that starts with "${want.value}", not ${JSON.stringify(clientId)}`;
  }
  const thing = thingOf(identity);
  if (thing === undefined) return `certificate ${JSON.stringify(identity)} has no thing attached yet`;
  return clientId === thing ? undefined : `certificate of thing ${JSON.stringify(thing)} must connect with client id ${JSON.stringify(thing)}, not ${JSON.stringify(clientId)}`;
}

/** The topic filters an identity may use, `%u` substituted; empty for an unknown identity. */
export function grantsFor(identity: string): string[] {
  const rule = ruleFor(identity);
  return rule ? substitute(identity, rule.topics) : [];
}

/** The topics an identity may receive but not publish (see RoleRule.receiveOnly). */
export function receiveOnlyFor(identity: string): string[] {
  return substitute(identity, ruleFor(identity)?.receiveOnly ?? []);
}

function substitute(identity: string, topics: readonly string[]): string[] {
  const thing = attachedThing(identity);
  return topics.filter((t) => thing !== undefined || !t.includes('%t')).map((t) => t.replaceAll('%u', identity).replaceAll('%t', thing ?? ''));
}

/**
 * True when every topic matched by `filter` is also matched by `grant`. A plain topic is a filter without
 * wildcards, so this also answers "may publish to topic". Wildcards at the first level never match a
 * `$` topic (MQTT 3.1.1 section 4.7.2).
 */
export function filterCovers(grant: string, filter: string): boolean {
  const g = grant.split('/');
  const f = filter.split('/');
  for (let i = 0; i < g.length; i++) {
    const level = g[i];
    const wildcardAtDollar = i === 0 && (f[0] ?? '').startsWith('$');
    if (level === '#') return !wildcardAtDollar;
    const other = f[i];
    if (other === undefined || other === '#') return false;
    if (level === '+') {
      if (wildcardAtDollar) return false;
      continue;
    }
    if (level !== other) return false;
  }
  return g.length === f.length;
}

/**
 * Grants are read+write (like AWS policies written for `iot:Publish`+`iot:Subscribe`+`iot:Receive` on the
 * same prefix). Publish: pass the topic. Subscribe: pass the filter; allowed only if a grant covers all of it.
 */
export function isAllowed(identity: string, topicOrFilter: string): boolean {
  return grantsFor(identity).some((grant) => filterCovers(grant, topicOrFilter));
}

/** Publish only: isAllowed, and not one of the identity's receive-only topics. */
export function mayPublish(identity: string, topic: string): boolean {
  return isAllowed(identity, topic) && !receiveOnlyFor(identity).some((t) => filterCovers(t, topic));
}

/** mosquitto dynamic-security plugin config (2.0 format); see mosquittoSecurity(). */
export interface DynsecConfig {
  defaultACLAccess: Record<'publishClientSend' | 'publishClientReceive' | 'subscribe' | 'unsubscribe', boolean>;
  clients: { username: string; clientid?: string; textname: string; roles: { rolename: string }[]; password?: string; salt?: string; iterations?: number }[];
  groups: never[];
  roles: { rolename: string; acls: { acltype: string; topic: string; allow: boolean; priority?: number }[] }[];
}

/**
 * The ACL as a mosquitto dynamic-security config. Not acl_file: mosquitto 2.0's acl_file never refuses a
 * SUBSCRIBE (it grants it and filters each delivery), whereas dynsec answers SUBACK 0x80/0x87 like aedes.
 * dynsec has no `%u` substitution, so every identity gets its own client and role; an identity that is not
 * listed cannot log in (mosquitto.ts gives each listed one a password that only devcloud's front knows).
 */
export function mosquittoSecurity(knownIdentities: Iterable<string>): DynsecConfig {
  const config: DynsecConfig = {
    defaultACLAccess: { publishClientSend: false, publishClientReceive: false, subscribe: false, unsubscribe: true },
    clients: [],
    groups: [],
    roles: [],
  };
  for (const identity of [...new Set(knownIdentities)].sort()) {
    const rule = ruleFor(identity);
    if (!rule) throw new Error(`no ACL rule matches identity ${JSON.stringify(identity)}; add one to ACL_RULES`);
    config.clients.push(dynsecClient(identity));
    config.roles.push(dynsecRole(identity));
  }
  return config;
}

/**
 * An identity as a dynsec client, with `clientid` = its thing for thing-bound roles: a second check
 * behind devcloud's mutual-TLS front (mtls-front.ts), which applies clientIdRefusal() to every role.
 */
export function dynsecClient(identity: string): DynsecConfig['clients'][number] {
  const rule = ruleFor(identity);
  if (!rule) throw new Error(`no ACL rule matches identity ${JSON.stringify(identity)}; add one to ACL_RULES`);
  const thing = rule.clientId.kind === 'thing' ? thingOf(identity) : undefined;
  return { username: identity, ...(thing !== undefined ? { clientid: thing } : {}), textname: rule.role, roles: [{ rolename: identity }] };
}

export function dynsecRole(identity: string): DynsecConfig['roles'][number] {
  return {
    rolename: identity,
    acls: [
      // Checked first (dynsec: higher priority first): the receive-only topics refuse a publish.
      ...receiveOnlyFor(identity).map((topic) => ({ acltype: 'publishClientSend', topic, allow: false, priority: 10 })),
      ...grantsFor(identity).flatMap((topic) => ['publishClientSend', 'publishClientReceive', 'subscribePattern'].map((acltype) => ({ acltype, topic, allow: true }))),
    ],
  };
}
