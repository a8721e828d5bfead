import type { CloudHandlerConfig } from '../cloud/handler.js';
import { UsageError } from './command.js';

/**
 * Where an operator command talks to: the devcloud running with state dir `devcloudDir`, or (without
 * it) AWS with the standard credential chain and the handler's environment variables.
 */
export async function cloudTarget(devcloudDir: string | undefined, thing: string): Promise<CloudHandlerConfig> {
  const { loadCloudConfig } = await import('../cloud/config.js');
  if (devcloudDir === undefined) return loadCloudConfig();
  const { readDevcloudInfo } = await import('../devcloud/info.js');
  const info = await readDevcloudInfo(devcloudDir);
  if (!(thing in info.devices)) throw new UsageError(`devcloud has no thing "${thing}"; it has ${Object.keys(info.devices).join(', ')}`);
  return {
    ...loadCloudConfig({ CLOUDCAM_BUCKET: info.s3.bucket, AWS_REGION: info.region, CLOUDCAM_SHADOW_NAME: info.shadowName }),
    s3Endpoint: info.s3.url,
    iotDataEndpoint: info.dataPlane.url,
    // devcloud's one cloud principal: the data plane verifies SigV4 with it, S3 too (devcloud.json).
    credentials: { accessKeyId: info.dataPlane.accessKeyId, secretAccessKey: info.dataPlane.secretAccessKey },
  };
}

/** Checks --thing: present and a valid AWS thing name. */
export async function requireThing(thing: string | undefined): Promise<string> {
  if (!thing) throw new UsageError('--thing THING is required');
  const { THING_NAME_PATTERN } = await import('../protocol/topics.js');
  if (!THING_NAME_PATTERN.test(thing)) throw new UsageError(`--thing "${thing}" is not a valid thing name (1-128 of letters, digits, ':', '_', '-')`);
  return thing;
}
