/**
 * What every interface of one simulated camera shares: its options with the profile applied, its
 * identity, parameters, users and roles, motion, installed apps, clock, faults and counters. Built once
 * by simulator.ts and handed to the VAPIX routes, the event stream and the RTSP server.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../lib/log.js';
import { AppRegistry } from './apps.js';
import type { CameraAuthPolicy } from './http-auth.js';
import { createMotionState, type MotionState } from './motion.js';
import { ParamTree } from './params.js';
import { CAMERA_PROFILES, DEFAULT_CAMERA_PROFILE, type CameraProfileName } from './profiles.js';
import type { CameraFaults, CameraIdentity, CameraRole, CameraSimulatorOptions } from './types.js';

export const BUILD_DATE = 'Oct 14 2025 10:12';

export interface CameraState {
  /** The options given, over the profile's. */
  readonly opts: CameraSimulatorOptions;
  readonly profile: CameraProfileName;
  readonly identity: CameraIdentity;
  readonly resolutions: string[];
  readonly authPolicy: CameraAuthPolicy;
  /** AXIS_<serial>, the realm Axis cameras use. */
  readonly realm: string;
  /** Username -> password of the camera's own accounts (not the service accounts). */
  readonly users: Record<string, string>;
  readonly roles: Map<string, CameraRole>;
  readonly params: ParamTree;
  readonly motion: MotionState;
  readonly apps: AppRegistry;
  /** App name -> where the reverse proxy sends its requests instead of the manifest's target. */
  readonly appTargets: Map<string, string>;
  readonly stats: { requests: number; snapshots: number; connections: number; openStreams: number; proxied: number };
  /** Timers and intervals that stop() clears. */
  readonly timers: Set<NodeJS.Timeout>;
  faults: CameraFaults;
  clockOffsetMs: number;
  /** The camera's own clock, which may be off (setClockOffset). */
  now(): Date;
  /** The next snapshot's frame number (drawn in the overlay). */
  nextSeq(): number;
  readonly log: Logger | undefined;
}

function defaultIdentity(name: string): CameraIdentity {
  // B8A44F is an Axis MAC prefix; Axis serial numbers are the MAC address.
  const tail = createHash('sha256').update(name).digest('hex').slice(0, 6).toUpperCase();
  return {
    serialNumber: `B8A44F${tail}`,
    model: 'AXIS M3106-L Mk II',
    prodNbr: 'M3106-L Mk II',
    architecture: 'armv7hf',
    soc: 'Axis Artpec-6',
    firmware: '11.11.73',
  };
}

export function createCameraState(given: CameraSimulatorOptions): CameraState {
  const profile = given.profile ?? DEFAULT_CAMERA_PROFILE;
  const profileOpts = CAMERA_PROFILES[profile];
  const opts: CameraSimulatorOptions = { ...profileOpts, ...given, identity: { ...profileOpts.identity, ...given.identity } };
  const identity: CameraIdentity = { ...defaultIdentity(opts.name), ...opts.identity };
  const resolutions = opts.resolutions ?? ['1920x1080'];
  const params = new ParamTree({
    brand: {
      prodFullName: `${identity.model} Network Camera`,
      prodNbr: identity.prodNbr,
      prodShortName: identity.model,
    },
    serialNumber: identity.serialNumber,
    architecture: identity.architecture,
    soc: identity.soc,
    firmware: identity.firmware,
    buildDate: BUILD_DATE,
    resolutions,
    defaultResolution: resolutions.includes('1920x1080') ? '1920x1080' : (resolutions[0] ?? '1920x1080'),
    dhcpNtpServer: opts.dhcpNtpServer ?? '0.0.0.0',
    defaultCompression: 30,
  });
  let seq = 0;
  const state: CameraState = {
    opts,
    profile,
    identity,
    resolutions,
    authPolicy: opts.auth ?? { http: { scheme: 'basic' }, https: { scheme: 'basic' } },
    realm: `AXIS_${identity.serialNumber}`,
    users: { [opts.username]: opts.password, ...Object.fromEntries((opts.users ?? []).map((u) => [u.username, u.password])) },
    roles: new Map<string, CameraRole>([...(opts.users ?? []).map((u) => [u.username, u.role] as const), [opts.username, 'admin']]),
    params,
    motion: createMotionState(),
    apps: new AppRegistry(identity.architecture, params),
    appTargets: new Map(),
    stats: { requests: 0, snapshots: 0, connections: 0, openStreams: 0, proxied: 0 },
    timers: new Set(),
    faults: {},
    clockOffsetMs: 0,
    now: () => new Date(Date.now() + state.clockOffsetMs),
    nextSeq: () => ++seq,
    log: opts.log?.child({ camera: opts.name }),
  };
  return state;
}
