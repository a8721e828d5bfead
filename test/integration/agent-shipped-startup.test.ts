/**
 * The agent as it ships (the esbuild bundle of src/agent/bin.ts in a packaged layout, run by this
 * machine's node): what its start-up costs and what it still tells the operator. The idle agent's
 * memory is a benchmark (docs/benchmarks.md), not a test; these tests hold the causes in place:
 * no optimising compiler runs before the V8 flags are set, code only some paths need is not loaded at
 * idle, and deferring it did not silence what operators read at start.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { brotliCompressSync, brotliDecompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleAgent } from '../../src/packaging/sea.js';
import { LAZY_CHUNKS } from '../../src/packaging/lazy-chunks.js';
import { DEFAULTS_FILE, SITE_FILE } from '../../src/agent/packaged-app.js';
import { HEAP_PROBE_ENV, HEAP_PROBE_SIGNAL } from '../../src/agent/heap-probe.js';
import { HAS_MOSQUITTO, startTestDevcloud, waitForReport, type TestDevcloud } from '../helpers/devcloud.js';
import { spawnShippedAgent, type AgentProcess } from '../helpers/agent-process.js';
import { connectViewer, ensureChannel, requestLive, waitForLiveReport } from '../helpers/live-viewer.js';
import type { SnapshotRequest } from '../../src/protocol/snapshot.js';

const thing = 'camera-1';
const LIVE_CHUNK = LAZY_CHUNKS[0]!;
let t: TestDevcloud;
let dir: string;
let bundle: string;
const running: AgentProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-shipped-'));
  bundle = path.join(dir, 'cloudcam-agent.cjs');
  await bundleAgent(path.resolve('src/agent/bin.ts'), bundle, '0.0.0-startup-test', 'node20');
  t = await startTestDevcloud({ broker: HAS_MOSQUITTO ? 'mosquitto' : 'aedes' });
}, 120_000);

afterAll(async () => {
  for (const a of running) await a.stop();
  await t?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** A packaged layout under dir/name with the devcloud agent config as the site's settings, edited. */
async function appDir(name: string, edit: (c: Record<string, unknown>) => void = () => undefined): Promise<string> {
  const app = path.join(dir, name);
  await mkdir(path.join(app, 'localdata'), { recursive: true });
  await writeFile(path.join(app, DEFAULTS_FILE), '{}\n');
  const config = JSON.parse(await readFile(t.dc.info.devices[thing]!.agentConfigPath, 'utf8')) as Record<string, unknown>;
  edit(config);
  await writeFile(path.join(app, SITE_FILE), JSON.stringify(config, null, 2));
  return app;
}

/** Starts the shipped agent and waits for the snapshot the cloud asks for when it comes online. */
async function startUntilFirstSnapshot(app: string, env: Record<string, string> = {}, nodeArgs: string[] = [], agentBundle = bundle): Promise<AgentProcess> {
  const first = new Promise<SnapshotRequest>((resolve) => {
    const on = (r: { action: string; request?: SnapshotRequest }): void => {
      if (r.action === 'requested' && r.request) {
        t.dc.rules.off('handled', on);
        resolve(r.request);
      }
    };
    t.dc.rules.on('handled', on);
  });
  const agent = await spawnShippedAgent(agentBundle, app, env, { nodeArgs });
  running.push(agent);
  const report = await waitForReport(t.dc, thing, (await first).id);
  expect(report.status).toBe('uploaded');
  return agent;
}

/** The bundle copied into dir/name, with `chunk` as its live-view code file (none when undefined). */
async function bundleBeside(name: string, chunk?: Buffer): Promise<string> {
  const copy = path.join(dir, name, path.basename(bundle));
  await mkdir(path.dirname(copy), { recursive: true });
  await copyFile(bundle, copy);
  if (chunk) await writeFile(path.join(dir, name, LIVE_CHUNK.file), chunk);
  return copy;
}

async function stopped(agent: AgentProcess): Promise<void> {
  running.splice(running.indexOf(agent), 1);
  expect(await agent.stop()).toBe(0);
}

describe('the shipped agent', () => {
  it('sets its V8 flags before it reads its settings: no function is optimised from start to the first snapshot', async () => {
    // --trace-opt prints a line per optimising compile. Reading the settings (convict's deep copies of
    // them) was hot enough for TurboFan when the flags were set only after it; that one compile kept
    // ~3.5 MB of V8's compiler code resident for good (docs/benchmarks.md, "The 65.6 MB").
    const agent = await startUntilFirstSnapshot(await appDir('trace-opt'), {}, ['--trace-opt']);
    const compiles = agent.lines.filter((l) => l['unparsed'] === true && /\(target (TURBOFAN|MAGLEV)\)/.test(String(l['msg'])));
    expect(compiles.map((l) => l['msg'])).toEqual([]);
    await stopped(agent);
  }, 60_000);

  /** The public built-ins the idle agent has loaded (the test-only heap probe lists them). */
  async function idleBuiltins(agent: AgentProcess): Promise<string[]> {
    const from = agent.lines.length;
    agent.child.kill(HEAP_PROBE_SIGNAL);
    const probe = await agent.waitForLog((l) => l['event'] === 'heap.probe', 10_000, from);
    return probe['builtins'] as string[];
  }

  it('loads the events code only when a trigger is configured (idle after its first snapshot)', async () => {
    // ws, the event stream's WebSocket client, requires node:zlib as it loads (permessage-deflate);
    // nothing else the agent loads at start does, so zlib tells whether the events code was loaded.
    const plain = await startUntilFirstSnapshot(await appDir('idle'), { [HEAP_PROBE_ENV]: '1' });
    const without = await idleBuiltins(plain);
    expect(without).toEqual(expect.arrayContaining(['tls', 'https', 'net'])); // the probe sees what every agent uses
    expect(without).not.toContain('zlib');
    await stopped(plain);

    const withTrigger = await appDir('idle-events', (c) => {
      c['events'] = { triggers: [{ name: 'motion', topic: 'tns1:VideoSource/MotionAlarm', when: { State: '1' }, cooldownSeconds: 0 }] };
    });
    const eventful = await startUntilFirstSnapshot(withTrigger, { [HEAP_PROBE_ENV]: '1' });
    expect(await idleBuiltins(eventful)).toContain('zlib');
    await stopped(eventful);
  }, 90_000);

  it('compiles the live-view code only on the first live request, and the bundled chunk serves a viewer', async () => {
    // The chunk is brotli-packed (node:zlib unpacks it) and werift requires node:timers/promises; the
    // idle agent without event triggers loads neither, so they tell whether the live chunk
    // (src/packaging/lazy-chunks.ts) was compiled.
    const agent = await startUntilFirstSnapshot(await appDir('idle-live'), { [HEAP_PROBE_ENV]: '1' });
    const idle = await idleBuiltins(agent);
    expect(idle).not.toContain('zlib');
    expect(idle).not.toContain('timers/promises');
    await ensureChannel(t.dc, thing);
    await requestLive(t.dc, thing);
    const viewer = await connectViewer(t.dc, thing);
    try {
      await viewer.answer();
      await viewer.frames(5);
    } finally {
      await viewer.close();
    }
    expect(await idleBuiltins(agent)).toEqual(expect.arrayContaining(['zlib', 'timers/promises']));
    await stopped(agent);
  }, 90_000);

  it('ships the live-view code as a packed file beside the bundle, not in its script source (there it kept 0.7 MB of V8 heap at idle)', async () => {
    const text = await readFile(bundle, 'utf8');
    expect(text).not.toMatch(/[A-Za-z0-9+/=]{100000,}/);
    const packed = await readFile(path.join(dir, LIVE_CHUNK.file));
    expect(brotliDecompressSync(packed).toString('utf8')).toContain('createLiveSession');
  });

  it('refuses a live-view code file that does not match its build, on every request, and keeps running', async () => {
    // A stale file as an interrupted update could leave it: valid brotli of other code, which would
    // load and run without the check (docs/security.md, "The packed live-view code"). The second
    // request reads the file again: a failed first load is not cached as an empty module.
    const stale = await bundleBeside('stale', brotliCompressSync(Buffer.from('module.exports = { stale: true };')));
    const agent = await startUntilFirstSnapshot(await appDir('stale-app'), {}, [], stale);
    await ensureChannel(t.dc, thing);
    for (const round of [0, 1]) {
      const from = agent.lines.length;
      await requestLive(t.dc, thing);
      const failed = await agent.waitForLog((l) => l['event'] === 'live.start-failed', 20_000, from);
      expect(String(failed['why']), `request ${round + 1}`).toMatch(/^live view could not load: live view's code file \/.*\/stale\/cloudcam-live\.cjs\.br does not match this build \(sha256 [0-9a-f]{16}\.\.\., built with [0-9a-f]{16}\.\.\., \d+ bytes\): reinstall the package$/);
    }
    expect((await waitForLiveReport(t.dc, thing, (r) => r.state === 'failed')).error).toContain('does not match this build');
    await stopped(agent);
  }, 90_000);

  it('says which live-view code file is missing, found beside the bundle whatever the working directory', async () => {
    const bare = await bundleBeside('bare');
    const agent = await startUntilFirstSnapshot(await appDir('bare-app'), {}, [], bare);
    await ensureChannel(t.dc, thing);
    const from = agent.lines.length;
    await requestLive(t.dc, thing);
    const failed = await agent.waitForLog((l) => l['event'] === 'live.start-failed', 20_000, from);
    expect(String(failed['why'])).toMatch(/live view's code file \/.*\/bare\/cloudcam-live\.cjs\.br cannot be read \(ENOENT.*\): reinstall the package$/);
    await stopped(agent);
  }, 90_000);

  it('still reports an unusable release key at start, before anything connects', async () => {
    const badKey = path.join(dir, 'broken-release-key.pem');
    await writeFile(badKey, '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n');
    const app = await appDir('bad-key', (c) => {
      c['update'] = { ...(c['update'] as object), extraReleaseKeyPath: badKey };
    });
    const agent = await startUntilFirstSnapshot(app);
    const unusable = agent.lines.findIndex((l) => l['event'] === 'update.keys-unusable');
    expect(unusable).toBeGreaterThanOrEqual(0);
    expect(agent.lines[unusable]!['level']).toBe(50);
    expect(String(agent.lines[unusable]!['msg'])).toContain(badKey);
    expect(unusable).toBeLessThan(agent.lines.findIndex((l) => l['event'] === 'agent.started'));
    await stopped(agent);
  }, 60_000);
});
