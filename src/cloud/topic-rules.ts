import { PRESENCE_FILTER, SNAPSHOT_REQUEST_FILTER } from '../protocol/topics.js';

/**
 * The AWS IoT topic rules of the deployed stack (infra/), in one place: their SQL is a contract with
 * the handler's `parseCloudEvent` ({thing, kind: 'presence'|'snapshot', state?, reason?}). Each
 * rule selects only what its action needs, so a device cannot smuggle extra fields (a forged
 * `thing`, say) into the handler's event: `thing` always comes from the topic, which the device
 * policy pins to the device's own name.
 */

/** The SQL version with nested aliases (`AS state.reported.connected`) and typed literals. */
export const IOT_SQL_VERSION = '2016-03-23';

/** presence `online` -> the handler: presign a snapshot for the camera that just came up. */
export const PRESENCE_ONLINE_SQL = `SELECT topic(2) AS thing, 'presence' AS kind, state FROM '${PRESENCE_FILTER}' WHERE state = 'online'`;

/** A snapshot request (the agent's schedule) -> the handler. */
export const SNAPSHOT_REQUEST_SQL = `SELECT topic(2) AS thing, 'snapshot' AS kind, reason FROM '${SNAPSHOT_REQUEST_FILTER}'`;

/**
 * presence -> `reported.connected` (and `reported.agentVersion`, which the viewer shows) in the named
 * shadow. AWS ignores last wills sent to `$aws/...` topics, so the will goes to the presence topic and
 * this rule carries it into the shadow.
 */
export const PRESENCE_TO_SHADOW_SQL = `SELECT state = 'online' AS state.reported.connected, agentVersion AS state.reported.agentVersion FROM '${PRESENCE_FILTER}' WHERE state = 'online' OR state = 'offline'`;

/** The republish topic of PRESENCE_TO_SHADOW_SQL; `$$` is how a rule writes a reserved `$aws` topic. */
export function presenceShadowTopicTemplate(shadowName: string): string {
  return `$$aws/things/\${topic(2)}/shadow/name/${shadowName}/update`;
}
