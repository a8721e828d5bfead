import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { createCloudHandler, createS3Client } from '../../cloud/handler.js';
import { loadCloudConfig } from '../../cloud/config.js';
import { cognitoVerifier } from './auth.js';
import { IoTClient, registryDirectory, SecretsManagerClient, cachedSecret, dataPlanePublisher } from './aws.js';
import { kvsStunUrl, kvsViewerSide } from './kvs.js';
import { createBucket } from './bucket.js';
import { dataPlaneShadows } from './fleet.js';
import { createViewerApi, type ViewerRequest, type ViewerResponse } from './handler.js';
import { requireOriginSecret } from './origin-verify.js';
import { fromHttpApiEvent, toHttpApiResult, type HttpApiEventV2, type HttpApiResultV2 } from './lambda-event.js';
import { bucketRevocations } from './revocations.js';

/**
 * The viewer API as a Lambda behind an API Gateway HTTP API (payload 2.0). Settings from the
 * environment the stack sets: the cloud handler's (bucket, shadow name, ...) plus
 * CLOUDCAM_USER_POOL_ID, CLOUDCAM_VIEWER_CLIENT_ID, CLOUDCAM_SHARE_SECRET_ID, CLOUDCAM_THING_PREFIX,
 * CLOUDCAM_ORIGIN_SECRET_ID (the header CloudFront adds: origin-verify.ts), CLOUDCAM_VIEWER_ORIGIN
 * (the address viewers use, under which share links are made; API Gateway only sees its own domain),
 * and optionally CLOUDCAM_EVENT_DAYS.
 */

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the viewer API needs it (see infra/viewer.ts)`);
  return value;
}

/** CLOUDCAM_EVENT_DAYS: the snapshot bucket's retention in days, which bounds the event listing (history.ts). */
function eventDays(): { eventDays?: number } {
  const raw = process.env['CLOUDCAM_EVENT_DAYS'];
  if (raw === undefined || raw === '') return {};
  if (!/^[1-9]\d{0,4}$/.test(raw)) throw new Error(`CLOUDCAM_EVENT_DAYS is "${raw.slice(0, 20)}": give the bucket's retention as a whole number of days, e.g. 30`);
  return { eventDays: Number(raw) };
}

let api: ((req: ViewerRequest) => Promise<ViewerResponse>) | undefined;

function createApi(): (req: ViewerRequest) => Promise<ViewerResponse> {
  const config = loadCloudConfig();
  const s3 = createS3Client(config);
  const bucket = createBucket(s3, config.bucket);
  const cloud = createCloudHandler(config);
  const secrets = new SecretsManagerClient({ region: config.region });
  const iotData = new IoTDataPlaneClient({ region: config.region });
  const viewerApi = createViewerApi({
    verifier: cognitoVerifier({ userPoolId: required('CLOUDCAM_USER_POOL_ID'), clientId: required('CLOUDCAM_VIEWER_CLIENT_ID') }),
    directory: registryDirectory(new IoTClient({ region: config.region }), process.env['CLOUDCAM_THING_PREFIX'] ?? ''),
    shadows: dataPlaneShadows(iotData, config.shadowName),
    bucket,
    requestSnapshot: (thing) => cloud.handle({ kind: 'snapshot', thing, reason: 'viewer' }),
    shareSecret: cachedSecret(secrets, required('CLOUDCAM_SHARE_SECRET_ID')),
    revocations: bucketRevocations(bucket),
    // The browser also gets the region's KVS STUN server, as the KVS WebRTC SDK's viewer adds it.
    live: { signalling: kvsViewerSide({ region: config.region, stunUrls: [kvsStunUrl(config.region)] }), publish: dataPlanePublisher(iotData) },
    onError: (route, err) => console.error(JSON.stringify({ msg: 'viewer API failed', route, err: err.message })),
    onIgnored: (thing, why) => console.warn(JSON.stringify({ msg: 'viewer API ignores what a camera reported', thing, why })),
    ...eventDays(),
  });
  return requireOriginSecret(cachedSecret(secrets, required('CLOUDCAM_ORIGIN_SECRET_ID')), viewerApi);
}

const viewerOrigin = process.env['CLOUDCAM_VIEWER_ORIGIN'];

export async function handler(event: HttpApiEventV2): Promise<HttpApiResultV2> {
  api ??= createApi();
  const req = fromHttpApiEvent(event);
  if (viewerOrigin) req.origin = viewerOrigin;
  return toHttpApiResult(await api(req));
}
