/**
 * A VAPIX camera on 127.0.0.1: digest-protected image.cgi, basicdeviceinfo.cgi and param.cgi,
 * with switchable faults (slow, refusing, unavailable, truncated or endless replies) so the agent's
 * error handling can be exercised against real sockets. Given a certificate it serves HTTPS as its
 * main URL and plain HTTP beside it, as an Axis camera does out of the box (self-signed certificate).
 * It also serves the VAPIX event stream over WebSocket and live H.264 over RTSP.
 *
 * This file composes one module per interface over the camera's shared state (state.ts): the HTTP
 * listeners (listeners.ts) with their VAPIX routes (vapix/), the event stream (event-stream.ts) and
 * the RTSP server (rtsp/camera-rtsp.ts).
 */
import { attachEventStream } from './event-stream.js';
import { startListeners } from './listeners.js';
import { startCameraRtsp } from './rtsp/camera-rtsp.js';
import { createCameraState } from './state.js';
import type { CameraSimulator, CameraSimulatorOptions } from './types.js';

export type { CameraFaults, CameraIdentity, CameraRole, CameraSimulator, CameraSimulatorOptions, CameraTlsCertificate, ServiceAccounts } from './types.js';

export async function startCameraSimulator(given: CameraSimulatorOptions): Promise<CameraSimulator> {
  const cam = createCameraState(given);
  // API discovery lists the event stream while it is switched on (tests switch it at run time).
  const listeners = await startListeners(cam, { eventStreaming: () => events.options.enabled });
  // The service-account host answers with its own verifier, as it does for every other VAPIX path.
  const events = attachEventStream(listeners.servers, cam.log, (event) => cam.motion.observe(event), () => cam.now());
  events.options.enabled = cam.opts.eventStreamingOverWebsocket !== false;
  events.options.timestamps = cam.opts.eventTimestamps !== false;
  const rtsp = await startCameraRtsp(cam).catch(async (e: unknown) => {
    events.close();
    await listeners.close();
    throw e;
  });

  return {
    url: listeners.url,
    port: listeners.port,
    httpUrl: listeners.httpUrl,
    get fingerprint256() {
      return listeners.fingerprint256;
    },
    setCertificate: (pair) => listeners.setCertificate(pair),
    username: cam.opts.username,
    password: cam.opts.password,
    identity: cam.identity,
    profile: cam.profile,
    serviceAccounts: listeners.serviceAccounts,
    defineAppParams: (appName, defs) => cam.params.defineApp(appName, defs),
    param: (key) => cam.params.get(key),
    accountRole: (username) => (Object.hasOwn(cam.users, username) ? cam.roles.get(username) : undefined),
    stats: cam.stats,
    setFaults(f) {
      cam.faults = { ...f };
    },
    apps: cam.apps,
    setClockOffset(ms) {
      cam.clockOffsetMs = ms;
    },
    setAppTarget(appName, target) {
      if (target === undefined) cam.appTargets.delete(appName);
      else cam.appTargets.set(appName, target);
    },
    events,
    rtsp,
    async stop() {
      events.close();
      for (const t of cam.timers) clearTimeout(t); // clearTimeout also clears intervals
      cam.timers.clear();
      await Promise.all([rtsp.close(), listeners.close()]);
    },
  };
}
