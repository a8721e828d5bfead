/** What the update operation needs from the layout it runs in (gateway-installer.ts, acap-installer.ts). */
export interface Installer {
  readonly kind: 'gateway' | 'acap';
  /** What a rollback returns to (gateway: the release now running; ACAP: its kept .eap or ''). */
  previous(runningVersion: string): Promise<string>;
  /** Puts the verified package in place so that the next start runs it; keeps `previous` for a rollback. */
  install(packageFile: string, version: string, previous: string): Promise<void>;
  /** Makes the next start run `previous` again; throws when it cannot. */
  rollback(previous: string): Promise<void>;
  /** After install/rollback: the gateway process exits (the service manager starts the other); the camera restarts an ACAP app itself. */
  readonly exitsToSwitch: boolean;
}
