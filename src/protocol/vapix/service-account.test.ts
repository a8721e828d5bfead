import { describe, expect, it } from 'vitest';
import os from 'node:os';
import path from 'node:path';
import { parseCredentials, requestServiceAccountCredentials, ServiceAccountError } from './service-account.js';

describe('GetCredentials reply', () => {
  it('splits "user:password" at the first colon (the password may hold more)', () => {
    expect(parseCredentials(['a0-cloudcam:p:a:ss'])).toEqual({ username: 'a0-cloudcam', password: 'p:a:ss' });
    expect(parseCredentials('a0-cloudcam:secret')).toEqual({ username: 'a0-cloudcam', password: 'secret' });
  });

  it('refuses the AXIS OS 11.6 beta format and empty parts without quoting the reply', () => {
    for (const reply of ['id:a0-testuser, pass:MH757eGZdsyBuAbhAQ3j2ZtRNg9xchEg', ':MH757eGZdsyB', 'a0-user:', 'no-colon-MH757eGZ']) {
      let err: unknown;
      try {
        parseCredentials([reply]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ServiceAccountError);
      expect((err as ServiceAccountError).kind).toBe('bad-reply');
      expect((err as Error).message).not.toContain('MH757eGZ');
    }
    expect(() => parseCredentials([42])).toThrow(/not a "user:password" string/);
  });

  it('says no-bus when there is no socket, quickly', async () => {
    const address = `unix:path=${path.join(os.tmpdir(), `cloudcam-absent-${process.pid}.sock`)}`;
    await expect(requestServiceAccountCredentials('cloudcam', { busAddress: address, timeoutMs: 2000 })).rejects.toMatchObject({ kind: 'no-bus' });
  });
});
