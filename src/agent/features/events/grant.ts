import { GRANT_REQUEST_REASON, grantNeedsRenewal, grantRemainingMs, parseUploadGrant, type UploadGrant } from '../../../protocol/upload-grant.js';
import type { Logger } from '../../../lib/log.js';

/**
 * Keeps the standing upload grant: takes it from the named shadow (`desired.uploadGrant`, on every
 * connect and from deltas), and asks the cloud for a fresh one (`{reason: 'grant'}` on the request
 * topic) when it is missing or has less than the renewal margin left. Asks at most once per
 * `retryMs`, so a cloud that does not answer is not flooded.
 */
export interface GrantKeeper {
  /** A grant usable now (at least `minRemainingMs` left), or undefined. */
  usable(): UploadGrant | undefined;
  /** A value from the shadow (desired.uploadGrant); ignored unless it is this thing's and newer. */
  offer(raw: unknown): void;
  /** Asks for a new grant if the current one needs renewing. */
  check(): void;
  /** The grant was refused by S3 (expired, revoked): forget it and ask again. */
  refused(): void;
  /** Called when a usable grant arrives. */
  onUsable(listener: () => void): void;
}

export function createGrantKeeper(opts: {
  thing: string;
  requestGrant: (msg: string) => Promise<void>;
  log: Logger;
  now?: () => number;
  retryMs?: number;
  minRemainingMs?: number;
}): GrantKeeper {
  const now = opts.now ?? Date.now;
  const retryMs = opts.retryMs ?? 30_000;
  const minRemainingMs = opts.minRemainingMs ?? 30_000;
  let grant: UploadGrant | undefined;
  let askedAt = Number.NEGATIVE_INFINITY;
  const listeners: (() => void)[] = [];

  const keeper: GrantKeeper = {
    usable() {
      keeper.check();
      return grant && grantRemainingMs(grant, now()) >= minRemainingMs ? grant : undefined;
    },
    offer(raw) {
      if (raw === undefined || raw === null) return;
      const parsed = parseUploadGrant(raw, opts.thing);
      if (!parsed.ok) {
        opts.log.warn({ event: 'events.grant-invalid', error: parsed.error }, `ignored an upload grant: ${parsed.error}`);
        return;
      }
      if (grant && Date.parse(parsed.value.expiresAt) <= Date.parse(grant.expiresAt)) return;
      grant = parsed.value;
      opts.log.info({ event: 'events.grant', expiresAt: grant.expiresAt, prefix: grant.keyPrefix }, 'upload grant received');
      if (grantRemainingMs(grant, now()) >= minRemainingMs) for (const l of listeners) l();
    },
    check() {
      const t = now();
      if (!grantNeedsRenewal(grant, t) || t - askedAt < retryMs) return;
      askedAt = t;
      opts
        .requestGrant(JSON.stringify({ reason: GRANT_REQUEST_REASON, at: new Date(t).toISOString() }))
        .then(() => opts.log.debug({ event: 'events.grant-requested' }, 'asked the cloud for an upload grant'))
        .catch((err: unknown) => {
          askedAt = Number.NEGATIVE_INFINITY; // not sent: ask again on the next check
          opts.log.warn({ event: 'events.grant-request-failed', err: (err as Error).message }, 'could not ask for an upload grant');
        });
    },
    refused() {
      grant = undefined;
      askedAt = Number.NEGATIVE_INFINITY;
      keeper.check();
    },
    onUsable(listener) {
      listeners.push(listener);
    },
  };
  return keeper;
}
