/**
 * Who may use which topics on the devcloud brokers. This table is the one source of truth: mosquitto's
 * dynamic-security config is generated from it and aedes' authorize hooks evaluate it, so both brokers
 * enforce the same policy (the stand-in for the AWS IoT policy attached to each certificate).
 */

/** CN of the devcloud services' own client certificate (the cloud side). */
export const CLOUD_IDENTITY = 'cloudcam-devcloud';
/** CN prefix of fleet-provisioning claim certificates. */
export const CLAIM_PREFIX = 'claim-';

/** AWS IoT thing-name alphabet; it also keeps MQTT wildcards and `/` out of `%u` substitutions. */
const NAME_CHARS = /^[a-zA-Z0-9:_-]{1,128}$/;

export type Role = 'cloud' | 'claim' | 'thing';

export interface RoleRule {
  readonly role: Role;
  readonly matches: (identity: string) => boolean;
  /** Topic filters granted for publish, subscribe and receive; `%u` stands for the identity. */
  readonly topics: readonly string[];
}

/** First matching rule wins. To give a role more topics, or to add a role, add one line here. */
export const ACL_RULES: readonly RoleRule[] = [
  // `#` does not match topics that start with `$` (MQTT 3.1.1 section 4.7.2), so `$aws/#` is granted explicitly.
  { role: 'cloud', matches: (id) => id === CLOUD_IDENTITY, topics: ['#', '$aws/#'] },
  {
    role: 'claim',
    matches: (id) => id.startsWith(CLAIM_PREFIX) && NAME_CHARS.test(id),
    topics: ['$aws/certificates/create-from-csr/#', '$aws/provisioning-templates/#'],
  },
  { role: 'thing', matches: (id) => isThingName(id), topics: ['$aws/things/%u/#', 'cloudcam/%u/#'] },
];

export function isThingName(name: string): boolean {
  return NAME_CHARS.test(name) && !name.startsWith(CLAIM_PREFIX) && name !== CLOUD_IDENTITY;
}

export function assertThingName(name: string): void {
  if (isThingName(name)) return;
  throw new Error(
    `invalid thing name ${JSON.stringify(name)}: use 1-128 characters from [a-zA-Z0-9:_-], ` +
      `not starting with "${CLAIM_PREFIX}" and not "${CLOUD_IDENTITY}" (both are reserved identities)`,
  );
}

export function ruleFor(identity: string): RoleRule | undefined {
  return ACL_RULES.find((rule) => rule.matches(identity));
}

/** The topic filters an identity may use, `%u` substituted; empty for an unknown identity. */
export function grantsFor(identity: string): string[] {
  const rule = ruleFor(identity);
  return rule ? rule.topics.map((t) => t.replaceAll('%u', identity)) : [];
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

/** mosquitto dynamic-security plugin config (2.0 format); see mosquittoSecurity(). */
export interface DynsecConfig {
  defaultACLAccess: Record<'publishClientSend' | 'publishClientReceive' | 'subscribe' | 'unsubscribe', boolean>;
  clients: { username: string; textname: string; roles: { rolename: string }[] }[];
  groups: never[];
  roles: { rolename: string; acls: { acltype: string; topic: string; allow: boolean }[] }[];
}

/**
 * The ACL as a mosquitto dynamic-security config. Not acl_file: mosquitto 2.0's acl_file never refuses a
 * SUBSCRIBE (it grants it and filters each delivery), whereas dynsec answers SUBACK 0x80/0x87 like aedes.
 * dynsec has no `%u` substitution, so every identity gets its own client and role; an identity that is not
 * listed connects (the certificate authenticates it) but may use no topic at all.
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
    config.clients.push({ username: identity, textname: rule.role, roles: [{ rolename: identity }] });
    config.roles.push({
      rolename: identity,
      acls: grantsFor(identity).flatMap((topic) =>
        ['publishClientSend', 'publishClientReceive', 'subscribePattern'].map((acltype) => ({ acltype, topic, allow: true })),
      ),
    });
  }
  return config;
}
