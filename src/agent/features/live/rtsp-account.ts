/**
 * Which camera account live view opens RTSP with, and what to tell the operator when the camera
 * refuses it. An ACAP app's D-Bus service account is valid for VAPIX on the local virtual host only:
 * Axis's RTSP server answers it 401 (AxisCommunications/acap-documentation#113; acap3-examples#73:
 * apps that need RTSP must use a camera account). So a dedicated viewer-group account, made and
 * rotated by `cloudcam setup live` and kept in the app parameters (live.rtspUsername/rtspPassword),
 * wins when set; otherwise the VAPIX credentials, which do work where they are a configured account.
 */
import type { AgentConfig } from '../../config/index.js';
import type { VapixAccess } from '../../camera-access.js';
import type { RtspCredentialSource } from '../../../protocol/rtsp/connection.js';
import { RtspError } from '../../../protocol/rtsp/errors.js';

export interface RtspAccount {
  credentials: RtspCredentialSource;
  basicOnLoopback: boolean;
  /** Where the credentials come from, for logs (never the password). */
  source: 'live-account' | 'service-account' | 'configured';
}

export function chooseRtspAccount(live: Pick<AgentConfig['live'], 'rtspUsername' | 'rtspPassword'>, access: { access: VapixAccess; credentials: RtspCredentialSource & { basicOnLoopback?: boolean } }): RtspAccount {
  const basicOnLoopback = access.credentials.basicOnLoopback === true;
  if (live.rtspUsername !== '') {
    const account = { username: live.rtspUsername, password: live.rtspPassword };
    return { credentials: { current: () => Promise.resolve(account) }, basicOnLoopback, source: 'live-account' };
  }
  return { credentials: access.credentials, basicOnLoopback, source: access.access === 'service-account' ? 'service-account' : 'configured' };
}

/** The operator's next step when the camera refused `account` on RTSP (401); undefined for other failures. */
export function rtspRefusalFix(err: unknown, source: RtspAccount['source']): string | undefined {
  if (!(err instanceof RtspError) || err.refusedUser === undefined) return undefined;
  switch (source) {
    case 'service-account':
      return "the camera does not accept the ACAP service account on RTSP (AxisCommunications/acap-documentation#113): run `cloudcam setup live` to give live view a camera account of its own";
    case 'live-account':
      return "the camera refused live view's account (deleted or changed on the camera?): run `cloudcam setup live` again, which resets its password";
    case 'configured':
      return 'the camera refused camera.username on RTSP: run `cloudcam setup live` to give live view a camera account of its own, or fix camera.username/camera.password';
  }
}
