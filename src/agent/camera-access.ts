/**
 * Which VAPIX credentials the agent uses, decided once at start:
 *
 *   service-account  the camera hands them out over D-Bus (AXIS OS 11.9+): valid only against the
 *                    local virtual host (camera.serviceAccountUrl, http://127.0.0.12), kept in
 *                    memory only, asked for again when the camera answers 401.
 *   configured       camera.url with camera.username/camera.password (older firmware, gateways).
 *
 * camera.access = auto tries the first and falls back to the second; one log line says which path
 * is active and why. No credentials anywhere is not a crash: every VAPIX call then fails with the
 * fix, so the snapshot reports `failed` with it and the agent keeps serving its other features.
 */
import type { Logger } from 'pino';
import type { AgentConfig } from './config/index.js';
import type { DigestCredentials } from '../protocol/digest.js';
import { fixedCredentials, type VapixCredentialSource } from '../protocol/vapix/auth.js';
import { VapixError } from '../protocol/vapix/errors.js';
import { GET_CREDENTIALS_METHOD, requestServiceAccountCredentials, ServiceAccountError } from '../protocol/vapix/service-account.js';

export type VapixAccess = 'service-account' | 'configured';

/** The service account's name as the agent asks for it (AXIS OS derives the VAPIX user from it). */
export const SERVICE_ACCOUNT_NAME = 'cloudcam';

export interface CameraAccess {
  access: VapixAccess;
  /** Where VAPIX calls go. */
  baseUrl: string;
  credentials: VapixCredentialSource;
}

const NO_CREDENTIALS_FIX =
  'on an Axis camera with AXIS OS 11.9 or later install the cloudcam package (its manifest declares ' +
  `${GET_CREDENTIALS_METHOD}, and the app must run as its dynamic user); elsewhere set camera.username and camera.password (docs/config.md)`;

/** Asks D-Bus once and returns the path to use; never throws. */
export async function chooseCameraAccess(
  camera: AgentConfig['camera'],
  opts: { log: Logger; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CameraAccess> {
  const env = opts.env ?? process.env;
  const busAddress = env['DBUS_SYSTEM_BUS_ADDRESS'];
  const ask = (): Promise<DigestCredentials> => requestServiceAccountCredentials(SERVICE_ACCOUNT_NAME, { busAddress, timeoutMs: opts.timeoutMs ?? 5000 });
  let why = 'camera.access is configured';
  if (camera.access !== 'configured') {
    try {
      const first = await ask();
      opts.log.info(
        { event: 'camera.access', access: 'service-account', url: camera.serviceAccountUrl },
        `VAPIX through the camera's D-Bus service account at ${camera.serviceAccountUrl} (credentials in memory only)`,
      );
      return { access: 'service-account', baseUrl: camera.serviceAccountUrl, credentials: serviceAccountSource(first, ask) };
    } catch (err) {
      why = err instanceof ServiceAccountError ? err.message : String(err);
      if (camera.access === 'service-account') {
        opts.log.error({ event: 'camera.access', access: 'service-account', why }, `camera.access is service-account but the camera gave no credentials (${why}); VAPIX calls fail until it does`);
        return { access: 'service-account', baseUrl: camera.serviceAccountUrl, credentials: serviceAccountSource(undefined, ask) };
      }
    }
  }
  if (camera.username === '') {
    const message = `no VAPIX credentials: the camera offers no D-Bus service account (${why}) and camera.username is not set. Fix: ${NO_CREDENTIALS_FIX}`;
    opts.log.error({ event: 'camera.access', access: 'configured', why }, message);
    const none = (): Promise<DigestCredentials> => Promise.reject(new VapixError('auth', message));
    return { access: 'configured', baseUrl: camera.url, credentials: { current: none, renew: none, refusedHint: NO_CREDENTIALS_FIX } };
  }
  opts.log.info(
    { event: 'camera.access', access: 'configured', url: camera.url, user: camera.username, why },
    `VAPIX with the configured account "${camera.username}" at ${camera.url} (no service account: ${why})`,
  );
  return { access: 'configured', baseUrl: camera.url, credentials: fixedCredentials({ username: camera.username, password: camera.password }) };
}

/**
 * Credentials held in memory only; one D-Bus request at a time (concurrent 401s share it), and a
 * failed request is not cached, so the next call asks again.
 */
function serviceAccountSource(first: DigestCredentials | undefined, ask: () => Promise<DigestCredentials>): VapixCredentialSource {
  let held = first;
  let asking: Promise<DigestCredentials> | undefined;
  const fetchNew = (): Promise<DigestCredentials> =>
    (asking ??= ask()
      .then((c) => (held = c))
      .catch((err: unknown) => {
        throw new VapixError('auth', `cannot get VAPIX credentials from the camera's service account (${(err as Error).message}). Fix: ${NO_CREDENTIALS_FIX}`, { cause: err });
      })
      .finally(() => {
        asking = undefined;
      }));
  return {
    current: () => (held ? Promise.resolve(held) : fetchNew()),
    // Another call may have renewed them meanwhile: then those are the fresh ones.
    renew: (refused) => (held && held !== refused ? Promise.resolve(held) : fetchNew()),
    refusedHint: `the camera refused its own service-account credentials even when asked again; restart the app, and check that ${GET_CREDENTIALS_METHOD} works on this AXIS OS version`,
    basicOnLoopback: true,
  };
}
