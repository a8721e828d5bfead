import { shadowTopics } from '../src/protocol/topics.js';

/**
 * The AWS IoT policies of the fleet, as plain documents (IoT policy grammar, not IAM):
 *  - the device policy: with `${iot:Connection.Thing.ThingName}` a camera can connect only as its own
 *    thing (and only with a certificate attached to that thing), publish and receive only its own
 *    cloudcam topics, its own named shadow's topics and its own Jobs topics;
 *  - the claim policy: what a fleet's shared claim certificate may do: the CSR and RegisterThing
 *    MQTT APIs of one template, nothing else.
 * `iotArn` is `arn:{partition}:iot:{region}:{account}` (CloudFormation tokens in the stack).
 */

export const THING_VARIABLE = '${iot:Connection.Thing.ThingName}';

export type PolicyDocument = {
  Version: '2012-10-17';
  Statement: { Effect: 'Allow' | 'Deny'; Action: string[]; Resource: string[]; Condition?: Record<string, Record<string, string>> }[];
};

/** `$aws/things/{thing}/shadow/name/{shadow}` topics with the thing left as a policy variable. */
function shadowTopicsOfVariable(shadowName: string) {
  const placeholder = 'THING-PLACEHOLDER';
  const t = shadowTopics(placeholder, shadowName);
  const sub = (topic: string) => topic.replace(placeholder, THING_VARIABLE);
  return {
    publish: [t.get, t.update].map(sub),
    receive: [t.getAccepted, t.getRejected, t.updateAccepted, t.updateRejected, t.updateDelta].map(sub),
  };
}

export function devicePolicy(iotArn: string, shadowName: string): PolicyDocument {
  const shadow = shadowTopicsOfVariable(shadowName);
  const own = [`cloudcam/${THING_VARIABLE}/presence`, `cloudcam/${THING_VARIABLE}/snapshot/request`, `cloudcam/${THING_VARIABLE}/events`];
  // Published by the cloud only (the viewer API's go-live request, issue 22): subscribe and receive, no publish.
  const fromCloud = [`cloudcam/${THING_VARIABLE}/live/request`];
  // The thing's own Jobs topics (the Jobs MQTT API: requests, replies, notify, notify-next), as AWS's
  // Jobs policy examples write them; `/jobs/` after the variable keeps camera-1 out of camera-10's.
  const jobs = `$aws/things/${THING_VARIABLE}/jobs/*`;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['iot:Connect'],
        Resource: [`${iotArn}:client/${THING_VARIABLE}`],
        // Without this a certificate not attached to any thing would see an empty variable.
        Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
      },
      { Effect: 'Allow', Action: ['iot:Publish'], Resource: [...own, ...shadow.publish, jobs].map((t) => `${iotArn}:topic/${t}`) },
      { Effect: 'Allow', Action: ['iot:Subscribe'], Resource: [...shadow.receive, jobs, ...fromCloud].map((t) => `${iotArn}:topicfilter/${t}`) },
      { Effect: 'Allow', Action: ['iot:Receive'], Resource: [...shadow.receive, jobs, ...fromCloud].map((t) => `${iotArn}:topic/${t}`) },
    ],
  };
}

/**
 * The claim certificate connects before it has a thing, so its client id cannot be pinned to one;
 * it is pinned to a prefix instead (the agent connects as `{claimClientIdPrefix}{serial}`).
 */
export function claimPolicy(iotArn: string, templateName: string, claimClientIdPrefix: string): PolicyDocument {
  const topics = ['$aws/certificates/create-from-csr/json', `$aws/provisioning-templates/${templateName}/provision/json`];
  const replies = topics.flatMap((t) => [`${t}/accepted`, `${t}/rejected`]);
  return {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['iot:Connect'], Resource: [`${iotArn}:client/${claimClientIdPrefix}*`] },
      { Effect: 'Allow', Action: ['iot:Publish'], Resource: topics.map((t) => `${iotArn}:topic/${t}`) },
      { Effect: 'Allow', Action: ['iot:Subscribe'], Resource: replies.map((t) => `${iotArn}:topicfilter/${t}`) },
      { Effect: 'Allow', Action: ['iot:Receive'], Resource: replies.map((t) => `${iotArn}:topic/${t}`) },
    ],
  };
}
