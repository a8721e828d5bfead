import { chmod, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../lib/log.js';
import { shellQuote } from '../lib/shell-quote.js';
import { IDENTITY_DIR } from './config/index.js';

/**
 * The state dir holds the handled request ids and, under identity/, the device's private key. The
 * agent creates it 0700, but a dir that already existed keeps whatever mode it had (mkdir does not
 * change it). So at every start:
 * - readable or searchable by group/others only: tightened to 0700 and logged (nothing can have
 *   been planted, and the agent owns the dir, so it can fix it without asking);
 * - writable by group/others, or owned by another user: refused with the fix, as for a loose key
 *   (another process may have planted or swapped files there; someone should look before it is used).
 */
export class StateDirError extends Error {
  override readonly name = 'StateDirError';
}

/** The dirs checked: the state dir and its identity dir, each when it exists. */
export function stateDirs(stateDir: string): string[] {
  return [stateDir, path.join(stateDir, IDENTITY_DIR)];
}

export async function secureStateDirs(stateDir: string, log: Logger): Promise<void> {
  for (const dir of stateDirs(stateDir)) {
    let st;
    try {
      st = await stat(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // made 0700 when first needed
      throw err;
    }
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw new StateDirError(`state dir ${dir} belongs to uid ${st.uid}, not to the agent (uid ${uid}): that user can read or replace the agent's identity. Fix: chown -R ${uid} ${shellQuote(dir)} && chmod 700 ${shellQuote(dir)}`);
    }
    const writable = st.mode & 0o022;
    if (writable) {
      const who = [writable & 0o020 ? 'group' : '', writable & 0o002 ? 'others' : ''].filter(Boolean).join(' and ');
      throw new StateDirError(
        `state dir ${dir} is writable by ${who} (mode ${mode}): another process on the camera may have planted or replaced files in it. ` +
          `Check its contents, then: chmod 700 ${shellQuote(dir)}`,
      );
    }
    if (st.mode & 0o077) {
      await chmod(dir, 0o700);
      log.warn({ event: 'state.permissions-tightened', dir, was: mode }, `state dir ${dir} was readable by others (mode ${mode}); set it to 0700`);
    }
  }
}
