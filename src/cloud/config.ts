import convict from 'convict';
import type { CloudHandlerConfig } from './handler.js';

/**
 * The cloud handler's settings, read from its environment (the Lambda's, or devcloud's). The
 * deployment template sets exactly these variables; a test holds the two together.
 */
export const cloudConfigSchema = {
  region: { doc: 'AWS region of the bucket and the IoT endpoint.', format: String, default: 'us-east-1', env: 'AWS_REGION' },
  bucket: { doc: 'S3 bucket that receives snapshots.', format: String, default: '', env: 'CLOUDCAM_BUCKET' },
  shadowName: { doc: 'Named shadow that carries snapshot requests.', format: String, default: 'cloudcam', env: 'CLOUDCAM_SHADOW_NAME' },
  expiresSeconds: { doc: 'Life of a presigned POST, in seconds.', format: 'nat', default: 300, env: 'CLOUDCAM_EXPIRES_SECONDS' },
  maxBytes: { doc: 'Largest snapshot a presigned POST accepts, in bytes.', format: 'nat', default: 5 * 1024 * 1024, env: 'CLOUDCAM_MAX_BYTES' },
  s3Endpoint: { doc: 'S3 endpoint override (devcloud only).', format: String, default: '', env: 'CLOUDCAM_S3_ENDPOINT' },
  iotDataEndpoint: { doc: 'IoT data-plane endpoint override (devcloud only; AWS finds it by region).', format: String, default: '', env: 'CLOUDCAM_IOT_DATA_ENDPOINT' },
} as const;

export function loadCloudConfig(env: NodeJS.ProcessEnv = process.env): CloudHandlerConfig {
  const conf = convict(cloudConfigSchema, { env, args: [] });
  conf.validate({ allowed: 'strict' });
  const bucket = conf.get('bucket');
  if (bucket === '') throw new Error('CLOUDCAM_BUCKET is not set: name the S3 bucket that receives snapshots');
  const expiresSeconds = conf.get('expiresSeconds');
  if (expiresSeconds < 10 || expiresSeconds > 3600) {
    throw new Error(`CLOUDCAM_EXPIRES_SECONDS is ${expiresSeconds}: use 10 to 3600 seconds`);
  }
  const s3Endpoint = conf.get('s3Endpoint');
  const iotDataEndpoint = conf.get('iotDataEndpoint');
  return {
    region: conf.get('region'),
    bucket,
    shadowName: conf.get('shadowName'),
    expiresSeconds,
    maxBytes: conf.get('maxBytes'),
    ...(s3Endpoint ? { s3Endpoint } : {}),
    ...(iotDataEndpoint ? { iotDataEndpoint } : {}),
  };
}
