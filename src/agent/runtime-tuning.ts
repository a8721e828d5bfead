import v8 from 'node:v8';

/**
 * V8 flags for the agent's own process, traded for memory: no optimising JavaScript compilers
 * (TurboFan, and Maglev, which Node 22+ turns on). Their compiled code and scratch memory stay in
 * the process (glibc keeps what they freed), and the agent is idle nearly all the time: one snapshot
 * every few seconds at most, whose bytes are moved by native code (TLS, sockets, Buffer copies).
 * Measured with `make bench` on x64: idle RSS ~3-4 MB lower, snapshot latency within the same 1.5x of
 * its floor (docs/benchmarks.md). The baseline compiler (Sparkplug) stays on: without it the first
 * snapshot on a loaded machine took long enough to miss a 1.5 s camera timeout, for no memory saved.
 * Every Node the agent ships with (20 on armv7, 26 on arm64) knows both flags (`node --v8-options`);
 * an unknown flag would only print a warning.
 */
export const DEVICE_V8_FLAGS = '--no-turbofan --no-maglev';

/** Applies DEVICE_V8_FLAGS; affects code compiled after the call, so the agent's entry calls it first. */
export function tuneRuntimeForDevice(): void {
  v8.setFlagsFromString(DEVICE_V8_FLAGS);
}
