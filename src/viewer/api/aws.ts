import { DescribeThingCommand, IoTClient, ListThingsCommand, ResourceNotFoundException } from '@aws-sdk/client-iot';
import { PublishCommand, type IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { liveRequestTopic } from '../../protocol/live-request.js';
import type { LivePublisher } from './live.js';
import { ENROLLED_AT_ATTRIBUTE } from '../../cloud/enrolment-rules.js';
import { knownThing, type ThingDirectory } from './fleet.js';

/**
 * The AWS side of the viewer's dependencies: the camera list from the IoT registry (iot:ListThings,
 * filtered to the fleet's name prefix; nextToken is the registry's own; one thing's enrolment day from
 * DescribeThing, the call that also says it exists), and secrets (the share-link key,
 * the CloudFront origin secret) from Secrets Manager, fetched once per Lambda instance.
 */

export function registryDirectory(iot: IoTClient, thingNamePrefix: string): ThingDirectory {
  return {
    async list({ limit, next }) {
      // ListThings filters by attribute or type, not by name prefix: read pages until one has enough.
      const things: string[] = [];
      let token = next;
      do {
        const page = await iot.send(new ListThingsCommand({ maxResults: Math.min(250, limit), ...(token !== undefined ? { nextToken: token } : {}) }));
        things.push(...(page.things ?? []).flatMap((t) => (t.thingName?.startsWith(thingNamePrefix) ? [t.thingName] : [])));
        token = page.nextToken;
      } while (things.length === 0 && token !== undefined);
      return token !== undefined ? { things, next: token } : { things };
    },
    async describe(thing) {
      if (!thing.startsWith(thingNamePrefix)) return undefined;
      try {
        const out = await iot.send(new DescribeThingCommand({ thingName: thing }));
        return knownThing(out.attributes?.[ENROLLED_AT_ATTRIBUTE]);
      } catch (err) {
        if (err instanceof ResourceNotFoundException) return undefined;
        throw err;
      }
    },
  };
}

/** A Secrets Manager string (the share-link key, the CloudFront origin secret), fetched once per instance; a failure is retried on the next call. */
export function cachedSecret(client: SecretsManagerClient, secretId: string): () => Promise<Buffer> {
  let key: Promise<Buffer> | undefined;
  return () => {
    key ??= client.send(new GetSecretValueCommand({ SecretId: secretId })).then((out) => {
      if (!out.SecretString) throw new Error(`secret ${secretId} has no string value`);
      return Buffer.from(out.SecretString, 'utf8');
    });
    key.catch(() => (key = undefined));
    return key;
  };
}

/** The go-live request through the IoT data plane's Publish (QoS 1; the role may publish on cloudcam/+/live/request only). */
export function dataPlanePublisher(client: IoTDataPlaneClient): LivePublisher {
  return async (thing, request) => {
    await client.send(new PublishCommand({ topic: liveRequestTopic(thing), qos: 1, payload: Buffer.from(JSON.stringify(request)) }));
  };
}

export { IoTClient, SecretsManagerClient };
