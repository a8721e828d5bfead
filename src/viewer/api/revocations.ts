import type { Bucket } from './bucket.js';
import { REVOKED_PREFIX } from './keys.js';

/**
 * Revoked share ids, kept as empty-ish objects `viewer/revoked/{id}` in the snapshot bucket: no
 * second store to deploy, the same code in AWS and devcloud, and S3 is strongly consistent for
 * list-after-write, so a revocation holds from the next request on. An S3 lifecycle rule can expire
 * them after 7 days (the longest a link lives).
 */

export interface RevocationList {
  isRevoked(id: string): Promise<boolean>;
  revoke(id: string): Promise<void>;
}

const SHARE_ID = /^[0-9a-f]{32}$/;

export function bucketRevocations(bucket: Bucket): RevocationList {
  return {
    async isRevoked(id) {
      if (!SHARE_ID.test(id)) return true;
      const page = await bucket.list({ prefix: `${REVOKED_PREFIX}${id}`, maxKeys: 1 });
      return page.objects.some((o) => o.key === `${REVOKED_PREFIX}${id}`);
    },
    async revoke(id) {
      if (!SHARE_ID.test(id)) throw new RangeError(`"${id}" is not a share id (32 hex digits)`);
      await bucket.write(`${REVOKED_PREFIX}${id}`, Buffer.from(`revoked ${new Date().toISOString()}\n`), 'text/plain');
    },
  };
}
