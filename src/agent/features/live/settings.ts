/**
 * What live view needs from the agent's settings, resolved once per session: the region (live.region,
 * else the one in iot.endpoint), the KVS control plane (live.kvsEndpoint, else AWS's regional host),
 * the credentials provider and role alias (no default: without them every live request fails with
 * this fix), and the camera's RTSP address on the host VAPIX uses. Problems come back as one sentence
 * naming the key to set.
 */
import { isLoopback } from '../local-api/request-checks.js';
import type { AgentConfig } from '../../config/index.js';

export interface LiveEndpoints {
  region: string;
  kvsEndpoint: string;
  credentialsEndpoint: string;
  roleAlias: string;
  /** rtsp://HOST:PORT/axis-media/media.amp?videocodec=h264 (no credentials: URLs get logged). */
  rtspUrl: string;
  /** Loopback host candidates when KVS itself is on loopback (devcloud): chromium reaches a peer's 127.0.0.1 (DESIGN §8). */
  additionalHostAddresses: string[];
}

const IOT_ENDPOINT_REGION = /\.iot\.([a-z]{2}(?:-[a-z]+)+-\d{1,2})\.amazonaws\.com(?:\.cn)?$/;

export function liveEndpoints(config: AgentConfig, cameraBaseUrl: string): { ok: true; value: LiveEndpoints } | { ok: false; error: string } {
  const live = config.live;
  if (live.credentialsEndpoint === '' || live.roleAlias === '') {
    return { ok: false, error: 'live view is not set up on this camera: set live.credentialsEndpoint (aws iot describe-endpoint --endpoint-type iot:CredentialProvider) and live.roleAlias (the stack output LiveRoleAlias)' };
  }
  const region = live.region || IOT_ENDPOINT_REGION.exec(config.iot.endpoint)?.[1];
  if (!region) return { ok: false, error: `live.region is not set and iot.endpoint (${config.iot.endpoint}) names no AWS region: set live.region` };
  const kvsEndpoint = live.kvsEndpoint || `https://kinesisvideo.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
  const host = new URL(cameraBaseUrl).hostname;
  const kvsHost = new URL(kvsEndpoint).hostname;
  return {
    ok: true,
    value: {
      region,
      kvsEndpoint,
      credentialsEndpoint: live.credentialsEndpoint,
      roleAlias: live.roleAlias,
      rtspUrl: `rtsp://${host}:${live.rtspPort}/axis-media/media.amp?videocodec=h264`,
      additionalHostAddresses: isLoopback(kvsHost) ? ['127.0.0.1'] : [],
    },
  };
}
