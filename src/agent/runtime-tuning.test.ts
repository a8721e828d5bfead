import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DEVICE_V8_FLAGS } from './runtime-tuning.js';

/**
 * Runs a hot function in a fresh node, with or without the device flags set at runtime (as the agent
 * does), and asks V8 whether it optimised it: bit 0x10 of %GetOptimizationStatus is "optimized" by
 * any optimising tier (TurboFan or Maglev).
 */
function optimisedAfterHotLoop(flags: string | undefined): { optimised: boolean; stderr: string } {
  const script = `
    ${flags === undefined ? '' : `require('node:v8').setFlagsFromString(${JSON.stringify(flags)});`}
    function add(a, b) { return a + b; }
    let s = 0;
    for (let i = 0; i < 2e6; i++) s = add(s, i);
    %PrepareFunctionForOptimization(add);
    add(1, 2); add(3, 4);
    %OptimizeFunctionOnNextCall(add);
    add(5, 6);
    process.stdout.write(String(%GetOptimizationStatus(add)));`;
  const run = spawnSync(process.execPath, ['--allow-natives-syntax', '-e', script], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`node exited ${run.status}: ${run.stderr}`);
  return { optimised: (Number(run.stdout) & 0x10) !== 0, stderr: run.stderr };
}

describe('device V8 flags', () => {
  it('are flags this node knows (no "unrecognized flag")', () => {
    const { stderr } = optimisedAfterHotLoop(DEVICE_V8_FLAGS);
    expect(stderr).not.toMatch(/unrecognized flag/i);
  });

  it('keep a hot function unoptimised when set at runtime, which it would otherwise not be', () => {
    expect(optimisedAfterHotLoop(undefined).optimised).toBe(true);
    expect(optimisedAfterHotLoop(DEVICE_V8_FLAGS).optimised).toBe(false);
  });
});
