/**
 * VAPIX service accounts over D-Bus (AXIS OS 11.9+, "VAPIX access for ACAP applications",
 * developer.axis.com/acap/develop/VAPIX-access-for-ACAP-applications): on the system bus, service
 * `com.axis.HTTPConf1`, object `/com/axis/HTTPConf1/VAPIXServiceAccounts1`, method
 * `com.axis.HTTPConf1.VAPIXServiceAccounts1.GetCredentials(s name) -> s "user:password"`. The
 * credentials are created for every call, carry the admin access level, are valid only against the
 * local virtual host http://127.0.0.12, and must be kept in memory only.
 *
 * The client is @homebridge/dbus-native (pure JavaScript, no addon: it runs inside the packaged
 * single executable on armv7; docs/decisions.md). One short-lived connection per request: the agent
 * asks at start and again only when the camera refuses the credentials.
 */
import dbus from '@homebridge/dbus-native';
import type { DigestCredentials } from '../digest.js';

export const SERVICE_ACCOUNT_BUS_NAME = 'com.axis.HTTPConf1';
export const SERVICE_ACCOUNT_OBJECT = '/com/axis/HTTPConf1/VAPIXServiceAccounts1';
export const SERVICE_ACCOUNT_INTERFACE = 'com.axis.HTTPConf1.VAPIXServiceAccounts1';
/** The method as the manifest names it (resources.dbus.requiredMethods / conditionalMethods). */
export const GET_CREDENTIALS_METHOD = `${SERVICE_ACCOUNT_INTERFACE}.GetCredentials`;
/** The local virtual host where service-account credentials are valid. */
export const SERVICE_ACCOUNT_VAPIX_URL = 'http://127.0.0.12';
/** Where the system bus is when DBUS_SYSTEM_BUS_ADDRESS is not set (the D-Bus specification's default). */
export const DEFAULT_SYSTEM_BUS = 'unix:path=/var/run/dbus/system_bus_socket';

/**
 * no-bus: no system bus to talk to (a gateway, a container); no-service: the bus has no such method
 * (AXIS OS before 11.9, or the manifest does not declare it); refused: the bus or the service said no;
 * bad-reply: an answer that is not "user:password"; timeout: no answer in time.
 */
export type ServiceAccountErrorKind = 'no-bus' | 'no-service' | 'refused' | 'bad-reply' | 'timeout';

export class ServiceAccountError extends Error {
  readonly kind: ServiceAccountErrorKind;
  constructor(kind: ServiceAccountErrorKind, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ServiceAccountError';
    this.kind = kind;
  }
}

/** The part of @homebridge/dbus-native this module and the devcloud stand-in use (its typings cover less). */
export interface DbusMessageBus {
  connection: NodeJS.EventEmitter & { end(): void };
  invoke(
    msg: { destination: string; path: string; interface: string; member: string; signature?: string; body?: unknown[] },
    callback: (error: { name?: string; message?: unknown } | Error | undefined | null, value: unknown) => void,
  ): void;
  requestName(name: string, flags: number, callback: (error: unknown, code: number) => void): void;
  exportInterface(
    obj: Record<string, (...args: never[]) => unknown>,
    path: string,
    iface: { name: string; methods: Record<string, [string, string]>; signals: object; properties: object },
  ): void;
}

/** Connects to the bus at `address` (D-Bus address syntax, e.g. unix:path=/run/dbus/system_bus_socket). */
export function connectBus(address: string): DbusMessageBus {
  return (dbus as unknown as { createClient(o: { busAddress: string }): DbusMessageBus }).createClient({ busAddress: address });
}

/** D-Bus error names that mean "this camera does not offer service accounts". */
const ABSENT = new Set([
  'org.freedesktop.DBus.Error.ServiceUnknown',
  'org.freedesktop.DBus.Error.UnknownMethod',
  'org.freedesktop.DBus.Error.UnknownObject',
  'org.freedesktop.DBus.Error.UnknownInterface',
  'org.freedesktop.DBus.Error.NameHasNoOwner',
]);

/**
 * Asks the system bus for VAPIX credentials for the account `name`. Resolves with the user and
 * password (never logged by this module); rejects with a ServiceAccountError whose kind says why.
 */
export async function requestServiceAccountCredentials(
  name: string,
  opts: { busAddress?: string | undefined; timeoutMs?: number } = {},
): Promise<DigestCredentials> {
  const address = opts.busAddress || DEFAULT_SYSTEM_BUS;
  const timeoutMs = opts.timeoutMs ?? 5000;
  let bus: DbusMessageBus;
  try {
    bus = connectBus(address);
  } catch (err) {
    throw new ServiceAccountError('no-bus', `no D-Bus system bus at ${address} (${(err as Error).message})`, { cause: err });
  }
  try {
    return await new Promise<DigestCredentials>((resolve, reject) => {
      const timer = setTimeout(() => reject(new ServiceAccountError('timeout', `the D-Bus system bus at ${address} did not answer ${GET_CREDENTIALS_METHOD} within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: ServiceAccountError): void => {
        clearTimeout(timer);
        reject(err);
      };
      // `on`, not `once`: a second error (EPIPE after a reset) without a listener would crash the agent.
      bus.connection.on('error', (err: NodeJS.ErrnoException) => {
        const absent = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
        fail(new ServiceAccountError(absent ? 'no-bus' : 'refused', `no D-Bus system bus at ${address} (${err.code ?? err.message})`, { cause: err }));
      });
      bus.invoke(
        { destination: SERVICE_ACCOUNT_BUS_NAME, path: SERVICE_ACCOUNT_OBJECT, interface: SERVICE_ACCOUNT_INTERFACE, member: 'GetCredentials', signature: 's', body: [name] },
        (error, value) => {
          if (error) {
            const dbusName = 'name' in error && typeof error.name === 'string' ? error.name : '';
            const text = error instanceof Error ? error.message : typeof error.message === 'string' ? error.message : dbusName;
            fail(new ServiceAccountError(ABSENT.has(dbusName) ? 'no-service' : 'refused', `${GET_CREDENTIALS_METHOD} failed: ${dbusName ? `${dbusName}: ` : ''}${text}`));
            return;
          }
          clearTimeout(timer);
          try {
            resolve(parseCredentials(value));
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        },
      );
    });
  } finally {
    bus.connection.end();
  }
}

/** "user:password" (the format since AXIS OS 11.8); the password may itself contain ':'. */
export function parseCredentials(value: unknown): DigestCredentials {
  const text: unknown = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (typeof text !== 'string') throw new ServiceAccountError('bad-reply', `${GET_CREDENTIALS_METHOD} answered with a ${typeof text}, not a "user:password" string`);
  const colon = text.indexOf(':');
  // The reply itself holds the password: describe it, never quote it.
  if (colon <= 0 || colon === text.length - 1 || /^id:.*, pass:/.test(text)) {
    throw new ServiceAccountError('bad-reply', `${GET_CREDENTIALS_METHOD} answered with ${text.length} characters that are not "user:password" (the AXIS OS 11.6 beta format "id:..., pass:..." is not supported)`);
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
