import { PassThrough } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { createAgentLogger } from './logging.js';
import { HEAP_PROBE_ENV, HEAP_PROBE_FORCE_GC, HEAP_PROBE_SIGNAL, installHeapProbe, type HeapProbe } from './heap-probe.js';

let probe: HeapProbe | undefined;
afterEach(() => probe?.stop());

function capture(): { lines: Record<string, unknown>[]; log: ReturnType<typeof createAgentLogger> } {
  const lines: Record<string, unknown>[] = [];
  const out = new PassThrough();
  out.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean).map((t) => JSON.parse(t) as Record<string, unknown>)));
  return { lines, log: createAgentLogger({ level: 'info', format: 'json', thing: 'camera-1', out }) };
}

it('is off unless the environment enables it: the signal keeps its default action', () => {
  const before = process.listenerCount(HEAP_PROBE_SIGNAL);
  probe = installHeapProbe(capture().log, {});
  expect(probe).toBeUndefined();
  expect(process.listenerCount(HEAP_PROBE_SIGNAL)).toBe(before);
});

async function probeOnce(mode: string): Promise<Record<string, unknown>> {
  const { lines, log } = capture();
  probe = installHeapProbe(log, { [HEAP_PROBE_ENV]: mode });
  process.emit(HEAP_PROBE_SIGNAL, HEAP_PROBE_SIGNAL);
  await expect.poll(() => lines.find((l) => l['event'] === 'heap.probe')).toBeDefined();
  return lines.find((l) => l['event'] === 'heap.probe')!;
}

it('when enabled, the signal logs the heap (after a GC only if node exposes one: the process is left as it was), and stop() removes it', async () => {
  const before = process.listenerCount(HEAP_PROBE_SIGNAL);
  const line = await probeOnce('1');
  expect(line['heapUsed']).toBeGreaterThan(0);
  expect(line['heapTotal']).toBeGreaterThanOrEqual(line['heapUsed'] as number);
  // Where heapTotal is, per space (code_space: what the compilers made).
  const spaces = line['spaces'] as Record<string, unknown>;
  expect([typeof spaces['old_space'], typeof spaces['code_space']]).toEqual(['number', 'number']);
  // Public built-ins by their `node:` names, none of Node's internal ones.
  expect(line['builtins']).toEqual(expect.arrayContaining(['events', 'fs']));
  expect((line['builtins'] as string[]).filter((b) => b.startsWith('internal/'))).toEqual([]);
  expect(line['gc']).toBe(typeof (globalThis as { gc?: unknown }).gc === 'function');
  probe!.stop();
  probe = undefined;
  expect(process.listenerCount(HEAP_PROBE_SIGNAL)).toBe(before);
});

it(`with ${HEAP_PROBE_ENV}=${HEAP_PROBE_FORCE_GC}, a full GC without --expose-gc too (a single executable takes no node options)`, async () => {
  expect((await probeOnce(HEAP_PROBE_FORCE_GC))['gc']).toBe(true);
});
