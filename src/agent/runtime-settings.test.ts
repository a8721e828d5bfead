import { describe, expect, it } from 'vitest';
import { mallocArenaMaxProblem, nodeOptionsProblem, runtimeEnvFile, uvThreadpoolSizeProblem } from './runtime-settings.js';
import { manifestParamConfig, runtimeParams } from './app-params.js';

describe('runtime settings', () => {
  it('accepts the memory flags and "none"', () => {
    for (const v of ['--jitless --max-semi-space-size=1 --v8-pool-size=1', 'none', '--no-jitless', ' --max-old-space-size=128  ']) expect(nodeOptionsProblem(v)).toBeUndefined();
  });

  it('refuses anything that could run code or open a port, naming the word and what is allowed', () => {
    expect(nodeOptionsProblem('--jitless --require /tmp/x.js')).toMatch(/^"--require" is not allowed: use "none" or words among --jitless, --no-jitless, --max-semi-space-size=1\.\.256/);
    expect(nodeOptionsProblem('--inspect')).toMatch(/"--inspect" is not allowed/);
    expect(nodeOptionsProblem('--jitless=1')).toMatch(/"--jitless=1"/);
    expect(nodeOptionsProblem('--max-semi-space-size')).toMatch(/not allowed/);
    expect(nodeOptionsProblem('none --jitless')).toMatch(/"none" is not allowed/);
  });

  it('bounds the thread pool as libuv does', () => {
    expect(uvThreadpoolSizeProblem('4')).toBeUndefined();
    expect(uvThreadpoolSizeProblem('1025')).toMatch(/from 1 to 1024/);
    expect(uvThreadpoolSizeProblem('0')).toMatch(/from 1 to 1024/);
  });

  it('bounds the malloc arenas', () => {
    expect(mallocArenaMaxProblem('1')).toBeUndefined();
    expect(mallocArenaMaxProblem('0')).toMatch(/from 1 to 64/);
    expect(mallocArenaMaxProblem('65')).toMatch(/from 1 to 64/);
    expect(mallocArenaMaxProblem('2; rm -rf /')).toMatch(/must be a whole number/);
  });

  it('writes runtime.env with only the settings given', () => {
    expect(runtimeEnvFile({ mallocArenaMax: '2' })).toMatch(/^#.*\nMALLOC_ARENA_MAX=2\n$/);
    expect(() => runtimeEnvFile({ mallocArenaMax: '0' })).toThrow(/MallocArenaMax "0"/);
    expect(runtimeEnvFile({ uvThreadpoolSize: '2' })).toMatch(/^#.*\nUV_THREADPOOL_SIZE=2\n$/);
    expect(runtimeEnvFile({ nodeOptions: ' --jitless   --v8-pool-size=2 ' })).toContain('\nNODE_OPTIONS=--jitless --v8-pool-size=2\n');
    expect(() => runtimeEnvFile({ nodeOptions: '--require x' })).toThrow(/NodeOptions "--require"/);
  });
});

describe('the runtime app parameters', () => {
  it('are in the manifest, empty by default', () => {
    expect(manifestParamConfig().slice(-3)).toEqual([
      { name: 'NodeOptions', default: '', type: 'string' },
      { name: 'UvThreadpoolSize', default: '', type: 'string' },
      { name: 'MallocArenaMax', default: '', type: 'string' },
    ]);
  });

  it('become runtime.env; none set means no file; a refused one keeps its default and is named', () => {
    expect(runtimeParams('cloudcam', { 'cloudcam.NodeOptions': '', 'cloudcam.ThingName': 'x' })).toEqual({ runtimeEnv: undefined, runtimeProblems: [] });
    expect(runtimeParams('cloudcam', { 'cloudcam.NodeOptions': 'none' }).runtimeEnv).toContain('\nNODE_OPTIONS=none\n');
    const bad = runtimeParams('cloudcam', { 'cloudcam.NodeOptions': '--inspect', 'cloudcam.UvThreadpoolSize': '2' });
    expect(bad.runtimeProblems).toEqual([expect.stringMatching(/^parameter NodeOptions: "--inspect" is not allowed.*; the default stays$/)]);
    expect(bad.runtimeEnv).toMatch(/\nUV_THREADPOOL_SIZE=2\n$/);
    expect(bad.runtimeEnv).not.toContain('NODE_OPTIONS');
    expect(runtimeParams('cloudcam', { 'cloudcam.MallocArenaMax': '2' }).runtimeEnv).toMatch(/\nMALLOC_ARENA_MAX=2\n$/);
    expect(runtimeParams('cloudcam', { 'cloudcam.MallocArenaMax': 'x' }).runtimeProblems).toEqual([expect.stringMatching(/^parameter MallocArenaMax: "x" must be/)]);
  });
});
