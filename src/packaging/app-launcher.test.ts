/**
 * The ACAP launcher run by sh as AXIS OS runs `setup.appName`, with the runtime replaced by a small sh
 * program that prints what it was started with: the environment, working directory and arguments.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appLauncherScript, DEBIAN_BUNDLE, SEA_EXECUTABLE, type RuntimeKind } from './app-launcher.js';
import { RUNTIME_DEFAULTS } from '../agent/runtime-settings.js';
import { FLAVOURS } from './flavours.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const PRINT = '#!/bin/sh\nprintf "NODE_OPTIONS=%s\\nUV_THREADPOOL_SIZE=%s\\nMALLOC_ARENA_MAX=%s\\nPWD=%s\\nLD_LIBRARY_PATH=%s\\nAPP_DIR=%s\\nARGS=%s\\n" "$NODE_OPTIONS" "$UV_THREADPOOL_SIZE" "$MALLOC_ARENA_MAX" "$(pwd)" "${LD_LIBRARY_PATH:-}" "$CLOUDCAM_APP_DIR" "$*"\n';

function app(runtime: RuntimeKind, runtimeEnv?: string, defaults = RUNTIME_DEFAULTS): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloudcam-launcher-'));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'cloudcam'), appLauncherScript('cloudcam', runtime, '', defaults), { mode: 0o755 });
  fs.writeFileSync(path.join(dir, runtime === 'sea' ? SEA_EXECUTABLE : 'node'), PRINT, { mode: 0o755 });
  fs.mkdirSync(path.join(dir, 'localdata'));
  if (runtimeEnv !== undefined) fs.writeFileSync(path.join(dir, 'localdata', 'runtime.env'), runtimeEnv);
  return dir;
}

function start(dir: string, env: NodeJS.ProcessEnv = {}): { out: Record<string, string>; stderr: string } {
  const errFile = path.join(dir, 'stderr');
  const stdout = execFileSync('sh', ['-c', `"$0" --version 2>"$1"`, path.join(dir, 'cloudcam'), errFile], { cwd: os.tmpdir(), encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ...env } });
  const out = Object.fromEntries(stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { out, stderr: fs.readFileSync(errFile, 'utf8') };
}

describe('the ACAP launcher', () => {
  it('starts the single executable with the measured settings, from the package directory, passing arguments', () => {
    const dir = app('sea');
    const { out, stderr } = start(dir, { NODE_OPTIONS: '--require /tmp/evil.js', MALLOC_ARENA_MAX: '8' });
    expect(out).toMatchObject({ NODE_OPTIONS: '--jitless --max-semi-space-size=1 --v8-pool-size=1', UV_THREADPOOL_SIZE: '1', MALLOC_ARENA_MAX: '1', PWD: fs.realpathSync(dir), APP_DIR: fs.realpathSync(dir), ARGS: '--version' });
    expect(out['NODE_OPTIONS']).toBe(RUNTIME_DEFAULTS.nodeOptions);
    expect(stderr).toBe('');
  });

  it("starts Debian's node with its libraries, Node's own CA bundle and the agent bundle", () => {
    const dir = app('debian');
    const { out } = start(dir);
    const real = fs.realpathSync(dir);
    expect(out).toMatchObject({ LD_LIBRARY_PATH: `${real}/lib`, PWD: real, ARGS: `--use-bundled-ca ${real}/${DEBIAN_BUNDLE} --version`, UV_THREADPOOL_SIZE: '1' });
  });

  it("exports each package's own defaults (--jitless only where it did not slow the first snapshot)", () => {
    for (const f of FLAVOURS) expect(start(app(f.runtime, undefined, f.runtimeDefaults)).out['NODE_OPTIONS']).toBe(f.runtimeDefaults.nodeOptions);
    expect(FLAVOURS.find((f) => f.id === 'aarch64')?.runtimeDefaults.nodeOptions).not.toContain('--jitless');
  });

  it('takes the settings from localdata/runtime.env', () => {
    const { out, stderr } = start(app('sea', '# from the app parameters\nNODE_OPTIONS=--max-semi-space-size=4 --max-old-space-size=96\nUV_THREADPOOL_SIZE=4\nMALLOC_ARENA_MAX=2\n'));
    expect(out).toMatchObject({ NODE_OPTIONS: '--max-semi-space-size=4 --max-old-space-size=96', UV_THREADPOOL_SIZE: '4', MALLOC_ARENA_MAX: '2' });
    expect(stderr).toBe('');
  });

  it('runs with no NODE_OPTIONS at all for "none"', () => {
    expect(start(app('sea', 'NODE_OPTIONS=none')).out['NODE_OPTIONS']).toBe('');
  });

  // The attacker: whoever can set an app parameter or write runtime.env gains no more than memory
  // tuning: --require/--import would run code of their choosing in the agent, --inspect open a debugger.
  it.each(['--require /tmp/evil.js', '--jitless --import=data:text/javascript,1', '--inspect=0.0.0.0:9229', '--max-semi-space-size=0', '--max-semi-space-size=1x', '--v8-pool-size=99', '*'])(
    'refuses NODE_OPTIONS=%s, keeps the default and says so',
    (value) => {
      const { out, stderr } = start(app('sea', `NODE_OPTIONS=${value}\n`));
      expect(out['NODE_OPTIONS']).toBe(RUNTIME_DEFAULTS.nodeOptions);
      expect(stderr).toContain(`<4>cloudcam: `);
      expect(stderr).toContain(`NODE_OPTIONS=${value} refused`);
    },
  );

  it.each(['0', '1025', '4x', '', '007'])('refuses UV_THREADPOOL_SIZE=%s', (value) => {
    const { out, stderr } = start(app('sea', `UV_THREADPOOL_SIZE=${value}\n`));
    expect(out['UV_THREADPOOL_SIZE']).toBe('1');
    expect(stderr).toContain(`UV_THREADPOOL_SIZE=${value} refused`);
  });

  it.each(['0', '65', '2 x', '-1'])('refuses MALLOC_ARENA_MAX=%s', (value) => {
    const { out, stderr } = start(app('sea', `MALLOC_ARENA_MAX=${value}\n`));
    expect(out['MALLOC_ARENA_MAX']).toBe('1');
    expect(stderr).toContain(`MALLOC_ARENA_MAX=${value} refused`);
  });

  it('ignores other lines, such as an attempt to set another variable', () => {
    const { out, stderr } = start(app('sea', 'LD_PRELOAD=/tmp/evil.so\nNODE_OPTIONS=--jitless\n'));
    expect(out['NODE_OPTIONS']).toBe('--jitless');
    expect(stderr).toContain('ignored line');
    expect(out['LD_LIBRARY_PATH']).toBe('');
  });
});
