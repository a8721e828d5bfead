/**
 * A test-only leak probe: with CLOUDCAM_TEST_HEAP_PROBE=1 in the environment, SIGUSR2 forces a full garbage collection and logs the live heap as one
 * `heap.probe` line. RSS read at one moment cannot tell a leak from collection timing; the heap
 * left after a full GC can. Off by default: a shipped agent keeps SIGUSR2's default action and
 * exposes nothing.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from 'pino';

export const HEAP_PROBE_ENV = 'CLOUDCAM_TEST_HEAP_PROBE';
export const HEAP_PROBE_SIGNAL = 'SIGUSR2';

export interface HeapProbe {
  stop(): void;
}

/**
 * The public Node built-ins this process has loaded so far (`node:` names, e.g. 'child_process'), from
 * process.moduleLoadList: tests check that what only some paths need is not loaded at idle.
 */
export function loadedBuiltins(): string[] {
  // moduleLoadList is undocumented (not in @types/node) but present in every Node the agent runs on.
  const list = (process as unknown as { moduleLoadList?: readonly string[] }).moduleLoadList ?? [];
  return list.filter((m) => m.startsWith('NativeModule ') && !m.startsWith('NativeModule internal/')).map((m) => m.slice('NativeModule '.length));
}

/** Resident bytes of each V8 heap space (new, old, code, large object, ...): where heapTotal is. */
export function heapSpaces(): Record<string, number> {
  return Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.physical_space_size]));
}

/**
 * The full GC: node's --expose-gc, or, where node options cannot be given on the command line (a
 * single executable started by its launcher, whose NODE_OPTIONS take memory settings only), the same
 * function exposed on the first probe: set the flag, then a new context has `gc`. Test-only.
 */
function exposedGc(): (() => void) | undefined {
  const own = (globalThis as { gc?: () => void }).gc;
  if (own) return own;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/** Installs the probe when the environment asks for it; undefined otherwise. */
export function installHeapProbe(log: Logger, env: NodeJS.ProcessEnv = process.env): HeapProbe | undefined {
  if (env[HEAP_PROBE_ENV] !== '1') return undefined;
  const onSignal = (): void => {
    const gc = exposedGc();
    if (gc) gc();
    const m = process.memoryUsage();
    log.info(
      { event: 'heap.probe', gc: gc !== undefined, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss, spaces: heapSpaces(), builtins: loadedBuiltins() },
      gc ? 'live heap after a full GC' : 'heap probe without a GC: this runtime refused --expose-gc',
    );
  };
  process.on(HEAP_PROBE_SIGNAL, onSignal);
  log.warn({ event: 'heap.probe-enabled' }, `test-only heap probe enabled (${HEAP_PROBE_ENV}=1): ${HEAP_PROBE_SIGNAL} forces a GC`);
  return { stop: () => process.off(HEAP_PROBE_SIGNAL, onSignal) };
}
