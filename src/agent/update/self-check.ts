/**
 * What "the new version works" means before an update reports SUCCEEDED (docs/update.md): it has
 * connected to the broker (resume is only called once connected), the cloud answers it (a GET of
 * its named shadow is answered, accepted or 404), and it reaches the camera with its VAPIX access
 * (basicdeviceinfo.cgi answers). Anything else is the reason for a rollback.
 */
import { ShadowClient, type MqttLink } from '../../protocol/shadow-client.js';
import type { VapixClient } from '../../protocol/vapix/client.js';

export interface SelfCheckDeps {
  link: MqttLink;
  thing: string;
  shadowName: string;
  camera: Pick<VapixClient, 'basicDeviceInfo'>;
  timeoutMs: number;
}

export function createSelfCheck(deps: SelfCheckDeps): (signal: AbortSignal) => Promise<string | undefined> {
  return async (signal) => {
    if (signal.aborted) return 'the agent is stopping';
    const shadow = new ShadowClient(deps.link, deps.thing, deps.shadowName, deps.timeoutMs);
    try {
      await shadow.subscribe();
      await shadow.get();
    } catch (err) {
      return `the shadow service did not answer a get: ${(err as Error).message}`;
    } finally {
      shadow.close();
    }
    try {
      await deps.camera.basicDeviceInfo();
    } catch (err) {
      return `the camera did not answer over VAPIX: ${(err as Error).message}`;
    }
    return undefined;
  };
}
