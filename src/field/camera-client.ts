/**
 * The field tools' VAPIX client for a stored camera: over HTTPS with the trust stored with the camera
 * (pinned certificate or CA), or plain HTTP only when the camera was added with --insecure-http.
 */
import { caAgent, pinnedAgent, type TlsFailure } from '../protocol/camera-tls.js';
import { VapixClient } from '../protocol/vapix/client.js';
import { CameraStore, defaultStorePath, type CameraTrust, type StoredCamera } from './camera-store.js';

/** Field commands wait longer than the agent: a camera on a customer's network can be slow. */
export const FIELD_TIMEOUT_MS = 15_000;

export type CameraAccess = Pick<StoredCamera, 'address' | 'url' | 'username' | 'password' | 'trust'>;

const PIN_BROKEN = new Set(['ERR_CAMERA_CERT_PIN_MISMATCH', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED']);

/** The stored trust; entries from before HTTPS support have none and must be added again. */
export function trustOf(camera: CameraAccess): CameraTrust {
  if (camera.trust) return camera.trust;
  throw new Error(`camera ${camera.address} was stored before cloudcam checked camera certificates: add it again with \`cloudcam camera add ${camera.address}\` (it shows the certificate to pin)`);
}

/** The words for a TLS failure, given how this camera is trusted. */
function explainTls(camera: CameraAccess, trust: CameraTrust): (f: TlsFailure) => TlsFailure {
  const repin = `cloudcam camera add ${camera.address} --repin`;
  return (f) => {
    if (trust.kind === 'pinned' && PIN_BROKEN.has(f.code)) {
      return {
        code: f.code,
        problem: `the camera no longer presents the certificate pinned for it on ${trust.pinnedAt.slice(0, 10)} (SHA256 ${trust.fingerprint256})`,
        fix: `if the camera was reset or given a new certificate, compare the new fingerprint with the one the camera's web interface shows for its HTTPS certificate and re-pin with \`${repin}\`; if nobody changed it, something on the network may be impersonating the camera: do not re-pin`,
      };
    }
    if (trust.kind === 'pinned' && (f.code === 'CERT_HAS_EXPIRED' || f.code === 'CERT_NOT_YET_VALID')) {
      return { ...f, fix: `${f.fix}; then re-pin the new certificate with \`${repin}\`` };
    }
    if (trust.kind === 'ca') return { ...f, fix: `${f.fix} (this camera is verified against the CA in ${trust.caFile}; add it again with \`cloudcam camera add ${camera.address} --ca FILE\` to change it)` };
    return f;
  };
}

export function vapixFor(camera: CameraAccess, timeoutMs = FIELD_TIMEOUT_MS): VapixClient {
  const trust = trustOf(camera);
  const isHttps = camera.url.startsWith('https:');
  if (isHttps === (trust.kind === 'insecure-http')) {
    throw new Error(`camera ${camera.address}: its stored URL ${camera.url} does not match its stored trust (${trust.kind}): add it again with \`cloudcam camera add ${camera.address}\``);
  }
  const agent = trust.kind === 'pinned' ? pinnedAgent(trust) : trust.kind === 'ca' ? caAgent(trust.caPem) : undefined;
  return new VapixClient({
    baseUrl: camera.url,
    username: camera.username,
    password: camera.password,
    timeoutMs,
    ...(agent ? { agent } : {}),
    explainTls: explainTls(camera, trust),
  });
}

/**
 * Refuses, before any connection, to send `what` (a private key, a package) to a camera stored for
 * plain HTTP: anyone on its network could read or replace it on the way.
 */
export function requireHttps(camera: CameraAccess, what: string): void {
  if (trustOf(camera).kind !== 'insecure-http') return;
  throw new Error(
    `refusing to send ${what} to ${camera.url} over plain HTTP: anyone on the camera's network could read or replace it; nothing was sent. ` +
      `Add the camera over HTTPS: \`cloudcam camera add ${camera.address.replace(/^http:\/\//i, '')}\` (without --insecure-http)`,
  );
}

/**
 * The stored camera at `address` (the only one when none is given) and a VAPIX client for it. With
 * `sends`, what the command will send (a private key, a password, a package): refused for a camera
 * stored for plain HTTP, before any connection.
 */
export async function openStoredCamera(env: NodeJS.ProcessEnv, address: string | undefined, opts: { sends?: string } = {}): Promise<{ stored: StoredCamera; camera: VapixClient }> {
  const stored = await new CameraStore(defaultStorePath(env)).find(address);
  if (opts.sends !== undefined) requireHttps(stored, opts.sends);
  return { stored, camera: vapixFor(stored) };
}
