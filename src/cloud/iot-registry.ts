/**
 * The AWS IoT registry as the pre-provisioning hook sees it (a ThingRegistry): five control-plane
 * calls, each allowed to the hook's role on exactly the resources it needs (infra/cloudcam-stack.ts):
 *   DescribeThing, ListThingPrincipals, UpdateThing  on thing/{prefix}*
 *   DescribeCertificate, UpdateCertificate           on cert/*
 * The operator's permission is the thing attribute REENROL_ATTRIBUTE (epoch seconds). It is used up
 * with UpdateThing's expectedVersion, so two registrations racing for one permission cannot both win.
 */
import {
  DescribeCertificateCommand,
  DescribeThingCommand,
  ListThingPrincipalsCommand,
  ResourceNotFoundException,
  UpdateCertificateCommand,
  UpdateThingCommand,
  VersionConflictException,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { ENROLLED_AT_ATTRIBUTE, REENROL_ATTRIBUTE, type EnrolledThing, type ThingRegistry } from './enrolment-rules.js';

/** The one method of IoTClient used here, so tests can hand in a recorder. */
export type IotSender = Pick<IoTClient, 'send'>;

/** `arn:aws:iot:{region}:{account}:cert/{certificateId}` -> the id; undefined for other principals. */
export function certificateIdOf(principalArn: string): string | undefined {
  return /:cert\/([0-9a-f]{64})$/.exec(principalArn)?.[1];
}

export function awsThingRegistry(iot: IotSender): ThingRegistry {
  return {
    async lookup(thingName, newCertificate): Promise<EnrolledThing | undefined> {
      let attributes: Record<string, string>;
      let version: number | undefined;
      try {
        const thing = await iot.send(new DescribeThingCommand({ thingName }));
        attributes = thing.attributes ?? {};
        version = thing.version;
      } catch (err) {
        if (err instanceof ResourceNotFoundException) return undefined;
        throw err;
      }
      const certificates: string[] = [];
      let nextToken: string | undefined;
      do {
        const page = await iot.send(new ListThingPrincipalsCommand({ thingName, ...(nextToken ? { nextToken } : {}) }));
        for (const arn of page.principals ?? []) {
          const id = certificateIdOf(arn);
          if (id !== undefined && id !== newCertificate) certificates.push(id);
        }
        nextToken = page.nextToken;
      } while (nextToken);
      const active: string[] = [];
      for (const certificateId of certificates) {
        const { certificateDescription } = await iot.send(new DescribeCertificateCommand({ certificateId }));
        if (certificateDescription?.status === 'ACTIVE') active.push(certificateId);
      }
      const seconds = Number(attributes[REENROL_ATTRIBUTE]);
      const enrolledAt = attributes[ENROLLED_AT_ATTRIBUTE];
      return {
        activeCertificates: active,
        ...(Number.isFinite(seconds) && seconds > 0 ? { reenrolAllowedUntil: seconds * 1000 } : {}),
        ...(version !== undefined ? { version } : {}),
        ...(enrolledAt ? { enrolledAt } : {}),
      };
    },

    async useReenrolPermission(thingName, version) {
      try {
        // An empty value removes the attribute (UpdateThing, "attributePayload").
        await iot.send(
          new UpdateThingCommand({ thingName, attributePayload: { attributes: { [REENROL_ATTRIBUTE]: '' }, merge: true }, ...(version !== undefined ? { expectedVersion: version } : {}) }),
        );
        return true;
      } catch (err) {
        if (err instanceof VersionConflictException) return false;
        throw err;
      }
    },

    async deactivate(certificateId) {
      await iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
    },
  };
}

/** What `cloudcam fleet allow-reenrol` does in AWS: records the permission on the thing (operator credentials). */
export async function allowReenrolmentInAws(iot: IotSender, thingName: string, untilMs: number): Promise<void> {
  try {
    await iot.send(new UpdateThingCommand({ thingName, attributePayload: { attributes: { [REENROL_ATTRIBUTE]: String(Math.floor(untilMs / 1000)) }, merge: true } }));
  } catch (err) {
    if (err instanceof ResourceNotFoundException) {
      throw new Error(`there is no thing ${thingName} in this account and region: check --serial, AWS_REGION and the stack's thing name prefix`, { cause: err });
    }
    throw err;
  }
}
