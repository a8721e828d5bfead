/**
 * The gateway launcher as systemd runs it (Restart=always: start it again whenever it exits), with
 * releases that are small sh programs: a release that cannot run at all is rolled back by the
 * launcher after update.maxStarts starts, with no help from the agent.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { launcherScript, LAUNCHER_NAME } from './gateway-launcher.js';
import { UpdateRecords } from './records.js';

const run = promisify(execFile);

function layout(): { base: string; root: string; launcher: string } {
  const base = mkdtempSync(path.join(tmpdir(), 'gw-base-'));
  const root = path.join(base, 'localdata');
  mkdirSync(root);
  const launcher = path.join(base, LAUNCHER_NAME);
  writeFileSync(launcher, launcherScript());
  chmodSync(launcher, 0o755);
  writeFileSync(path.join(base, 'cloudcam'), '#!/bin/sh\necho "base $*"\n');
  chmodSync(path.join(base, 'cloudcam'), 0o755);
  return { base, root, launcher };
}

function release(root: string, name: string, script: string): void {
  const dir = path.join(root, 'releases', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'cloudcam'), script);
  chmodSync(path.join(dir, 'cloudcam'), 0o755);
}

/** One start by the service manager: exit code and output. */
async function start(launcher: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(launcher, ['--flag'], { env: { PATH: process.env['PATH'], ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('gateway launcher', () => {
  it('starts the release with the measured runtime settings, overridden by runtime.env in the state dir', async () => {
    const { base, root, launcher } = layout();
    writeFileSync(path.join(base, 'cloudcam'), '#!/bin/sh\necho "$NODE_OPTIONS|$UV_THREADPOOL_SIZE"\n');
    expect((await start(launcher)).stdout).toBe('--jitless --max-semi-space-size=1 --v8-pool-size=1|1\n');
    writeFileSync(path.join(root, 'runtime.env'), 'NODE_OPTIONS=--max-old-space-size=64\nUV_THREADPOOL_SIZE=2\n');
    expect((await start(launcher)).stdout).toBe('--max-old-space-size=64|2\n');
    writeFileSync(path.join(root, 'runtime.env'), 'NODE_OPTIONS=--require /tmp/x.js\n');
    const refused = await start(launcher);
    expect(refused.stdout).toBe('--jitless --max-semi-space-size=1 --v8-pool-size=1|1\n');
    expect(refused.stderr).toContain('<4>cloudcam-launcher: ');
  });

  it('runs the installed executable, then the release `current` names, passing arguments', async () => {
    const { root, launcher } = layout();
    expect((await start(launcher)).stdout).toBe('base --flag\n');
    release(root, '0.2.0', '#!/bin/sh\necho "0.2.0 $* $CLOUDCAM_GATEWAY_ROOT"\n');
    writeFileSync(path.join(root, 'current'), '0.2.0\n');
    expect((await start(launcher)).stdout).toBe(`0.2.0 --flag ${root}\n`);
  });

  it('rolls a crash-looping update back after maxStarts starts and records why for the old version', async () => {
    const { root, launcher } = layout();
    release(root, '0.2.0', '#!/bin/sh\necho "0.2.0 cannot start" >&2\nexit 1\n');
    writeFileSync(path.join(root, 'current'), '0.2.0\n');
    writeFileSync(path.join(root, 'previous'), 'base\n');
    const records = new UpdateRecords(path.join(root, 'update'));
    const now = Math.floor(Date.now() / 1000);
    await records.writePending({ jobId: 'job-crash', version: '0.2.0', from: '0.1.0', previous: 'base', installedAt: now, deadline: now + 600, maxStarts: 3 });

    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await start(launcher)).code);
    expect(codes).toEqual([1, 1, 1]);
    expect(await records.starts()).toBe(3);
    const fourth = await start(launcher);
    expect(fourth).toMatchObject({ code: 0, stdout: 'base --flag\n' });
    expect(fourth.stderr).toMatch(/^<4>cloudcam-launcher: the new release exited 3 times without confirming itself \(crash loop\)/);
    expect(readFileSync(path.join(root, 'current'), 'utf8')).toBe('base\n');
    expect(await records.pending()).toBeUndefined();
    expect(await records.rolledBack()).toMatchObject({ jobId: 'job-crash', version: '0.2.0' });
    expect((await records.rolledBack())?.reason).toMatch(/crash loop/);
    expect((await start(launcher)).stdout).toBe('base --flag\n');
  });

  it('rolls back at a start after the deadline, and leaves a confirmed update alone', async () => {
    const { root, launcher } = layout();
    release(root, '0.2.0', '#!/bin/sh\necho 0.2.0\n');
    writeFileSync(path.join(root, 'current'), '0.2.0\n');
    const records = new UpdateRecords(path.join(root, 'update'));
    const now = Math.floor(Date.now() / 1000);
    await records.writePending({ jobId: 'job-late', version: '0.2.0', from: '0.1.0', previous: 'base', installedAt: now - 700, deadline: now - 100, maxStarts: 3 });
    expect((await start(launcher)).stdout).toBe('base --flag\n');
    expect((await records.rolledBack())?.reason).toMatch(/did not connect and pass its self-check within 600 s of its install \(started again 10[01] s after that deadline\); rolled back by the launcher$/);

    writeFileSync(path.join(root, 'current'), '0.2.0\n');
    await records.clearRolledBack();
    expect((await start(launcher)).stdout).toBe('0.2.0\n');
    expect(existsSync(path.join(root, 'update', 'starts'))).toBe(false);
  });

  it('runs only what the agent could have written: a pointer outside releases/ or a state dir others can write means the installed release', async () => {
    const { root, launcher } = layout();
    // A pointer that climbs out of releases/ (the agent never writes one; the launcher must not follow it).
    mkdirSync(path.join(root, 'planted'));
    writeFileSync(path.join(root, 'planted', 'cloudcam'), '#!/bin/sh\necho planted\n');
    chmodSync(path.join(root, 'planted', 'cloudcam'), 0o755);
    for (const pointer of ['../planted', '..', '.hidden', '0.2.0/../../planted']) {
      writeFileSync(path.join(root, 'current'), `${pointer}\n`);
      expect((await start(launcher)).stdout, pointer).toBe('base --flag\n');
    }
    // A release in a state dir another user can write: it may be theirs.
    release(root, '0.2.0', '#!/bin/sh\necho 0.2.0\n');
    writeFileSync(path.join(root, 'current'), '0.2.0\n');
    expect((await start(launcher)).stdout).toBe('0.2.0\n');
    for (const [dir, mode] of [[root, 0o777], [path.join(root, 'releases'), 0o775]] as const) {
      chmodSync(dir, mode);
      const loose = await start(launcher);
      expect(loose.stdout).toBe('base --flag\n');
      expect(loose.stderr).toMatch(/launcher: .* is writable by another user or not ours: running the installed release/);
      chmodSync(dir, 0o755);
    }
    expect((await start(launcher)).stdout).toBe('0.2.0\n');
  });

  it('runs updates from a state dir reached through the localdata symlink, as install.sh lays it out', async () => {
    const { base, root, launcher } = layout();
    const state = mkdtempSync(path.join(tmpdir(), 'gw-state-'));
    rmSync(root, { recursive: true });
    symlinkSync(state, root);
    release(state, '0.2.0', '#!/bin/sh\necho 0.2.0\n');
    writeFileSync(path.join(state, 'current'), '0.2.0\n');
    expect(await start(launcher)).toMatchObject({ stdout: '0.2.0\n', stderr: '' });
    expect(path.join(base, 'localdata')).toBe(root);
  });
});
