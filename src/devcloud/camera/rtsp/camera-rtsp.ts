/**
 * The simulated camera's RTSP side: the RTSP server (server.ts) on a port of its own, streaming the
 * camera's scene as live H.264 (the clock, the frame counter and the capture-time SEI the encoder
 * draws, and the moving object while the camera's motion is active), with the camera's own accounts.
 *
 * Authentication is the camera's plain-HTTP offer (Digest shaped as the firmware's, profiles.ts):
 * RTSP reuses HTTP authentication (RFC 2326 §D.1) and is not TLS, like the HTTP listener. Service
 * accounts are not accepted here: Axis documents them as valid only on the local virtual host
 * (developer.axis.com/acap/develop/VAPIX-access-for-ACAP-applications) — confirmed from that page
 * only, not on a camera.
 */
import { createVerifier } from '../http-auth.js';
import { h264SourceProvider } from '../h264/source.js';
import { motionBox } from '../motion.js';
import type { CameraState } from '../state.js';
import { startRtspServer } from './server.js';

export interface CameraRtsp {
  readonly port: number;
  /** rtsp://host:port/axis-media/media.amp?videocodec=h264 */
  readonly url: string;
  /** RTSP sessions set up and not yet torn down or timed out. */
  readonly sessions: number;
  /** Resolves once the session count satisfies `predicate` (e.g. `(n) => n === 0` after the last viewer left). */
  untilSessions(predicate: (count: number) => boolean, timeoutMs: number): Promise<number>;
  close(): Promise<void>;
}

export async function startCameraRtsp(cam: CameraState): Promise<CameraRtsp> {
  const { motion } = cam;
  const server = await startRtspServer({
    host: cam.opts.host ?? '127.0.0.1',
    port: cam.opts.rtspPort ?? 0,
    // Its own verifier (own nonces) over the same accounts as the HTTP side.
    auth: createVerifier(cam.authPolicy.http, cam.realm, cam.users),
    source: h264SourceProvider({
      objectAt: (now, format) => {
        const since = motion.activeSince(now);
        return since === undefined ? undefined : motionBox(format.width, format.height, now - since);
      },
    }),
    resolutions: cam.resolutions,
    log: cam.log,
  });
  return server;
}
