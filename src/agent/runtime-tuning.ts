import v8 from 'node:v8';

/**
 * Memory tuning for a small device, applied first thing in the agent, before most code runs.
 *
 * V8's optimising compiler (TurboFan) keeps compiled code and compiler scratch memory that glibc
 * does not hand back. The agent is idle almost all the time and does one snapshot every few seconds
 * at most, so unoptimised code is fast enough: measured with `make bench` on x64 (with node:http),
 * idle RSS 68-72 MB instead of 72-75 MB, and the snapshot path stays within 1.5x of its floor
 * (docs/benchmarks.md). `--no-sparkplug` as well saved nothing more and made the first snapshot
 * under a loaded test machine exceed a 1.5 s camera timeout, so it is not set. There is no WebAssembly left in the agent (its HTTP
 * clients use node:http, not undici's WebAssembly parser), so no WebAssembly flag is needed.
 * The flags only affect code compiled after this call, which is why it runs first.
 */
export function tuneRuntimeForDevice(): void {
  v8.setFlagsFromString('--no-opt');
}
