/**
 * A test-only leak probe: with CLOUDCAM_TEST_HEAP_PROBE=1 in the environment, SIGUSR2 logs the heap as
 * one `heap.probe` line, after a full garbage collection when node runs with --expose-gc; with
 * CLOUDCAM_TEST_HEAP_PROBE=gc, after a full GC always (exposed by the probe itself where node options
 * cannot be given: a single executable started by its launcher). RSS read at one moment cannot tell a
 * leak from collection timing; the heap left after a full GC can. `=1` leaves the process as it was
 * (`make bench` reads the peak after it: exposing gc costs a context and moved Node 20's peak after
 * 100 snapshots from 65 to 71 MB). Off by default: a shipped agent keeps SIGUSR2's default action and
 * exposes nothing.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from 'pino';

export const HEAP_PROBE_ENV = 'CLOUDCAM_TEST_HEAP_PROBE';
export const HEAP_PROBE_SIGNAL = 'SIGUSR2';
/** HEAP_PROBE_ENV's value that asks for a full GC even without --expose-gc. */
export const HEAP_PROBE_FORCE_GC = 'gc';

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
 * The full GC: node's --expose-gc, or, when `force`, the same function exposed by the probe: set the
 * flag, then a new context has `gc` (made once). Test-only.
 */
let ownGc: (() => void) | undefined;
function exposedGc(force: boolean): (() => void) | undefined {
  const fromNode = (globalThis as { gc?: () => void }).gc;
  if (fromNode || !force) return fromNode;
  if (ownGc) return ownGc;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    if (typeof gc === 'function') ownGc = gc as () => void;
  } catch {
    // the runtime refused the flag: the line says gc: false
  }
  return ownGc;
}

/** Installs the probe when the environment asks for it; undefined otherwise. */
export function installHeapProbe(log: Logger, env: NodeJS.ProcessEnv = process.env): HeapProbe | undefined {
  const mode = env[HEAP_PROBE_ENV];
  if (mode !== '1' && mode !== HEAP_PROBE_FORCE_GC) return undefined;
  const onSignal = (): void => {
    const gc = exposedGc(mode === HEAP_PROBE_FORCE_GC);
    if (gc) gc();
    const m = process.memoryUsage();
    log.info(
      { event: 'heap.probe', gc: gc !== undefined, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss, spaces: heapSpaces(), builtins: loadedBuiltins() },
      gc ? 'live heap after a full GC' : `heap probe without a GC: start node with --expose-gc, or set ${HEAP_PROBE_ENV}=${HEAP_PROBE_FORCE_GC}`,
    );
  };
  process.on(HEAP_PROBE_SIGNAL, onSignal);
  log.warn({ event: 'heap.probe-enabled' }, `test-only heap probe enabled (${HEAP_PROBE_ENV}=${mode}): ${HEAP_PROBE_SIGNAL} logs the heap`);
  return { stop: () => process.off(HEAP_PROBE_SIGNAL, onSignal) };
}
