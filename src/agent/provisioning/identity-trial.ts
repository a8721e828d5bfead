/**
 * A newly installed identity is on trial until the agent has connected with it. If it has not within
 * the bound (localApi.identityTrialMs, default 2 min), the previous identity is put back
 * (identity-store.ts restorePreviousIdentity) and the agent reconnects with it: a certificate the
 * broker refuses, whoever installed it, cannot keep the camera offline. `/status` carries the state.
 */
import type { Logger } from '../../lib/log.js';
import type { AgentConnection, TlsFiles } from '../connection.js';
import { confirmInstalledIdentity, restorePreviousIdentity } from './identity-store.js';

export type IdentityState = 'configured' | 'trial' | 'confirmed' | 'rolled-back';

export interface IdentityStatus {
  state: IdentityState;
  /** The installed certificate's id (SHA-256 of its DER) while on trial, confirmed or rolled back. */
  certificateId?: string;
  /** ISO time the state began. */
  since: string;
  reason?: string;
}

export interface IdentityTrial {
  status(): IdentityStatus;
  /** The connection now uses `files` (already written, marked trial); the bound starts now. */
  begin(files: TlsFiles, certificateId: string): void;
  stop(): void;
}

export function createIdentityTrial(opts: { connection: AgentConnection; stateDir: string; boundMs: number; log: Logger }): IdentityTrial {
  const { connection } = opts;
  const log = opts.log.child({ component: 'identity' });
  let current: IdentityStatus = { state: 'configured', since: new Date().toISOString() };
  let timer: NodeJS.Timeout | undefined;
  let lastCause: string | undefined;
  let work: Promise<void> = Promise.resolve();

  const set = (state: IdentityState, certificateId: string, reason?: string): void => {
    current = { state, certificateId, since: new Date().toISOString(), ...(reason === undefined ? {} : { reason }) };
  };
  const onDisconnected = ({ reason }: { reason: string }): void => {
    lastCause = reason;
  };
  const onConnected = (): void => {
    if (current.state !== 'trial' || timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
    const id = current.certificateId ?? '';
    set('confirmed', id);
    work = work.then(() => confirmInstalledIdentity(opts.stateDir)).then(
      () => log.info({ event: 'certs.confirmed', certificateId: id }, 'connected with the installed certificate; it is kept and the previous one deleted'),
      (err: unknown) => log.error({ event: 'certs.confirm-failed', err: (err as Error).message }, 'connected with the installed certificate, but cannot update the identity mark; it stays on trial until the next start'),
    );
  };
  connection.on('connected', onConnected);
  connection.on('disconnected', onDisconnected);

  const rollBack = (certificateId: string): void => {
    timer = undefined;
    const why = `not connected within ${Math.round(opts.boundMs / 1000)} s with the installed certificate${lastCause ? ` (last: ${lastCause})` : ''}`;
    work = work.then(async () => {
      const previous = await restorePreviousIdentity(opts.stateDir, connection.tlsFiles.caPath);
      if (previous === undefined) {
        set('rolled-back', certificateId, `${why}; no previous identity was kept, so the installed one stays`);
        log.error({ event: 'certs.rollback-impossible', certificateId }, current.reason ?? '');
        return;
      }
      set('rolled-back', certificateId, why);
      log.error(
        { event: 'certs.rolled-back', certificateId, certPath: previous.certPath },
        `${why}: restored the previous certificate and reconnecting with it. Check that the new certificate is registered, active and attached in AWS IoT, then run cloudcam setup certs again`,
      );
      connection.reconnectWith(previous, `the installed certificate ${certificateId.slice(0, 12)} did not connect; rolled back`);
    }).catch((err: unknown) => {
      log.error({ event: 'certs.rollback-failed', err: (err as Error).message }, 'cannot restore the previous certificate; the installed one stays');
    });
  };

  return {
    status: () => ({ ...current }),
    begin(files, certificateId) {
      if (timer) clearTimeout(timer);
      lastCause = undefined;
      set('trial', certificateId, `connecting with the installed certificate (${files.certPath}); rolled back if not connected within ${Math.round(opts.boundMs / 1000)} s`);
      timer = setTimeout(() => rollBack(certificateId), opts.boundMs);
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      connection.off('connected', onConnected);
      connection.off('disconnected', onDisconnected);
    },
  };
}
