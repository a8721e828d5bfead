/**
 * Firmware profiles of the camera simulator (`devcloud --camera-profile`, devcloud.json
 * `cameraProfile`; docs/devcloud.md): what differs between AXIS OS versions in the exchanges
 * cloudcam has with a camera. Each profile is a set of simulator options; explicit options win.
 * Sources per behaviour are in docs/protocol-vapix.md; model names are illustrative, the resolution
 * lists are published replies of real cameras:
 * - RESOLUTIONS_5MP_4_3: developer.axis.com/vapix/applications/digital-autotracking-api (the example
 *   reply of param.cgi `Properties.Image.Resolution` of a 4:3 sensor).
 * - RESOLUTIONS_1080P: Kane610/axis tests/test_param_cgi.py (a camera's param.cgi list, firmware 9.10.1).
 * - RESOLUTIONS_4MP_16_9: cloudcam's earlier simulator list for an AXIS M3106-L Mk II (not from a
 *   recorded reply: confirm against a real camera), kept for AXIS OS 11.
 */
import type { AuthOffer } from './http-auth.js';
import type { CameraSimulatorOptions } from './simulator.js';

export const CAMERA_PROFILE_NAMES = ['axis-os-12', 'axis-os-11', 'axis-os-10'] as const;
export type CameraProfileName = (typeof CAMERA_PROFILE_NAMES)[number];
export const DEFAULT_CAMERA_PROFILE: CameraProfileName = 'axis-os-12';

export function isCameraProfileName(s: string): s is CameraProfileName {
  return (CAMERA_PROFILE_NAMES as readonly string[]).includes(s);
}

export const RESOLUTIONS_5MP_4_3 = [
  '2592x1944', '2048x1536', '1600x1200', '1280x960', '1024x768', '800x600', '640x480', '480x360', '320x240', '240x180', '160x120',
  '1280x1024', '2592x1458', '1920x1080', '1280x720', '800x450', '640x360', '480x270', '320x180', '160x90', '176x144',
];
export const RESOLUTIONS_1080P = ['1920x1080', '1280x960', '1280x720', '1024x768', '1024x576', '800x600', '640x480', '640x360', '352x240', '320x240'];
export const RESOLUTIONS_4MP_16_9 = [
  '2688x1512', '1920x1080', '1280x960', '1280x720', '1024x768', '1024x576', '800x600', '640x480', '640x360', '480x270', '320x240', '320x180', '160x120', '160x90',
];

/** One MD5 challenge as real cameras send it: no algorithm parameter, no opaque (issue 19's recordings). */
const DIGEST_MD5_PLAIN: AuthOffer = { scheme: 'digest', algorithms: ['MD5'], opaque: false, algorithmParam: false, singleUseNonce: false };

export const CAMERA_PROFILES: Record<CameraProfileName, Partial<CameraSimulatorOptions>> = {
  // developer.axis.com/vapix/authentication recommends Basic over HTTPS and Digest over HTTP; AXIS OS
  // 12 cameras answer HTTPS with `Basic realm="AXIS_<serial>"` only.
  'axis-os-12': {
    identity: { model: 'AXIS P3245-LVE', prodNbr: 'P3245-LVE', architecture: 'armv7hf', soc: 'Axis Artpec-7', firmware: '12.6.94' },
    resolutions: RESOLUTIONS_5MP_4_3,
    auth: { http: DIGEST_MD5_PLAIN, https: { scheme: 'basic' } },
  },
  // Digest MD5 only on both listeners, no opaque, and a reused nonce gets stale=true.
  'axis-os-11': {
    identity: { model: 'AXIS M3106-L Mk II', prodNbr: 'M3106-L Mk II', architecture: 'armv7hf', soc: 'Axis Artpec-6', firmware: '11.11.73' },
    resolutions: RESOLUTIONS_4MP_16_9,
    auth: {
      http: { ...DIGEST_MD5_PLAIN, singleUseNonce: true },
      https: { ...DIGEST_MD5_PLAIN, singleUseNonce: true },
    },
  },
  // Older firmware: Digest MD5 naming its algorithm, with opaque. (Events: no
  // event-streaming-over-websocket in API discovery — set where the simulator's events live.)
  'axis-os-10': {
    identity: { model: 'AXIS M1065-LW', prodNbr: 'M1065-LW', architecture: 'armv7hf', soc: 'Axis Artpec-6', firmware: '10.12.220' },
    resolutions: RESOLUTIONS_1080P,
    auth: {
      http: { scheme: 'digest', algorithms: ['MD5'], opaque: true, algorithmParam: true, singleUseNonce: false },
      https: { scheme: 'digest', algorithms: ['MD5'], opaque: true, algorithmParam: true, singleUseNonce: false },
    },
  },
};
