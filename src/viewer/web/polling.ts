import { useEffect } from 'preact/hooks';
import { SignedOut } from './api.js';

/**
 * Runs `load` now and every `ms` while the page is shown: new snapshots and presence changes appear
 * within one period without a reload. Polling rather than SSE: API Gateway's HTTP API and Lambda do
 * not hold a stream open, so polling is what runs the same in AWS and devcloud.
 */
export function usePolling(load: () => Promise<void>, ms: number, deps: unknown[], onError: (message: string) => void): void {
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = (): void => {
      load()
        .catch((err: unknown) => {
          if (err instanceof SignedOut) location.reload();
          else onError(err instanceof Error ? err.message : String(err));
        })
        .finally(() => {
          if (!stopped) timer = setTimeout(tick, ms);
        });
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, deps);
}
